"""Exports draw with the face the gallery would choose, and fall back to Pillow's own font where none is installed."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from installation.export import fonts
from installation.gallery.fonts import FontChoice, choose_font


@pytest.fixture(autouse=True)
def _fresh_caches():
    fonts.font_choice.cache_clear()
    fonts.get_font.cache_clear()
    yield
    fonts.font_choice.cache_clear()
    fonts.get_font.cache_clear()


def test_exports_use_the_galleries_face() -> None:
    choice = choose_font(None)
    if choice.regular is None:
        pytest.skip("no preferred face installed here (apt-get install fonts-dejavu-core)")
    assert fonts.font_choice().name == choice.name
    regular, bold = fonts.get_font(30), fonts.get_font(30, bold=True)
    assert isinstance(regular, ImageFont.FreeTypeFont) and regular.path == choice.regular
    assert bold.path == choice.bold and regular.size == 30


def test_no_installed_face_falls_back_to_pillows_font(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = FontChoice("pygame's bundled freesansbold", None, None, "bundled")
    monkeypatch.setattr(fonts, "choose_font", lambda *args, **kwargs: bundled)
    assert fonts.font_choice() is bundled
    font = fonts.get_font(24, bold=True)
    assert font.getbbox("Reef")[3] > 10  # a scalable font of about the asked size, not the tiny bitmap one


class _CountingDraw(ImageDraw.ImageDraw):
    """A real drawing context that counts the characters it measures, and stops past a budget."""

    def __init__(self, budget: int) -> None:
        super().__init__(Image.new("RGB", (8, 8)))
        self.spent, self.budget = 0, budget

    def textlength(self, text, *args, **kwargs):  # type: ignore[override]
        self.spent += len(text) + 1
        if self.spent > self.budget:
            raise AssertionError(f"over {self.budget} characters measured")
        return super().textlength(text, *args, **kwargs)


def test_a_long_title_costs_linear_work_on_posters_and_slides() -> None:
    """A theme title of 20,000 characters without spaces is cut in work linear in its length, not quadratic."""
    font, word = fonts.get_font(30), "x" * 20_000
    draw = _CountingDraw(budget=40 * len(word))
    cut = fonts.ellipsize(draw, word, font, 400)
    assert cut.endswith("…") and draw.textlength(cut, font=font) <= 400
    lines = fonts.wrap(draw, f"the {word} runs", font, 400)
    assert "".join(lines[1:-1]) + lines[-1].removesuffix(" runs") == word
    assert all(draw.textlength(line, font=font) <= 400 for line in lines)
