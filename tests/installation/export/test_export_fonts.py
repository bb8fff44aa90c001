"""Exports draw with the face the gallery would choose, and fall back to Pillow's own font where none is installed."""

from __future__ import annotations

import pytest
from PIL import ImageFont

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
