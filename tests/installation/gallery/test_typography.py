"""The gallery's text: which font, how it wraps, where the panel goes, and its contrast over bright and dark pieces."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pygame
import pytest

from installation.gallery import fonts as fonts_mod
from installation.gallery.config import GalleryConfig, GalleryError
from installation.gallery.fonts import BUNDLED, FACES, FontChoice, choose_font
from installation.gallery.images import Prepared
from installation.gallery.order import PieceInfo
from installation.gallery.overlay import (
    ELLIPSIS,
    MEASURE_EM,
    TRAILING,
    balanced_wrap,
    contrast_ratio,
    text_layout,
    text_width,
    wrap,
)
from installation.gallery.render import Renderer, choose_display_font, pygame_loads
from installation.gallery.slideshow import Frame, View

LONG = ("Ice that remembers thousands of winters, rendered by a machine that remembers none. Every summer the glacier "
        "retreats further up the valley; the white blankets laid over it to slow the melt look, from a distance, "
        "like the sheets of a hospital bed. Is your perception distorted, or is it the ice that has changed?")
SHORT = "Ice that remembers thousands of winters."


def touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not really a font")
    return folder


# -- font choice ----------------------------------------------------------------------------------------------------

def test_first_installed_preferred_face_wins_with_its_bold_for_titles(tmp_path):
    dirs = [touch(tmp_path / "a" / "liberation", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
            touch(tmp_path / "b" / "dejavu" / "deep", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf")]
    choice = choose_font(None, dirs=dirs)
    assert (choice.name, choice.source) == ("DejaVu Sans", "installed"), "DejaVu comes before Liberation"
    assert choice.regular.endswith("deep/DejaVuSans.ttf") and choice.bold.endswith("DejaVuSans-Bold.ttf")
    touch(tmp_path / "c", "NotoSans-Regular.ttf")
    noto = choose_font(None, dirs=[*dirs, tmp_path / "c"])
    assert noto.name == "Noto Sans" and noto.bold == noto.regular, "no bold file: titles use the regular one"


def test_a_face_that_does_not_load_is_skipped(tmp_path):
    dirs = [touch(tmp_path, "DejaVuSans.ttf", "LiberationSans-Regular.ttf")]
    choice = choose_font(None, dirs=dirs, loads=lambda path: "DejaVu" not in path)
    assert choice.name == "Liberation Sans"


def test_nothing_installed_asks_fontconfig_then_falls_back_to_pygames_font(tmp_path):
    asked = []

    def match(family):
        asked.append(family)
        return "/opt/fonts/ArialMT.ttf" if family == "arial" else None

    via_fc = choose_font(None, dirs=[tmp_path], match=match)
    assert (via_fc.name, via_fc.regular, via_fc.source) == ("Arial", "/opt/fonts/ArialMT.ttf", "fontconfig")
    assert asked == [f.family for f in FACES], "asked in the order of preference"
    bundled = choose_font(None, dirs=[tmp_path], match=lambda family: None)
    assert (bundled.regular, bundled.bold, bundled.source) == (None, None, "bundled")
    line = bundled.describe()
    assert BUNDLED in line and "fonts-dejavu-core" in line and "--font" in line and "\n" not in line


def test_font_option_wins_and_a_missing_file_is_a_clear_error(tmp_path):
    mine = touch(tmp_path / "mine", "Mine.otf") / "Mine.otf"
    installed = [touch(tmp_path / "fonts", "DejaVuSans.ttf")]
    choice = choose_font(str(mine), dirs=installed)
    assert (choice.regular, choice.bold, choice.source) == (str(mine), str(mine), "--font")
    assert "from --font" in choice.describe()
    with pytest.raises(GalleryError, match=r"font file .*nope\.ttf does not exist") as err:
        choose_font(str(tmp_path / "nope.ttf"), dirs=installed)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    pygame.font.init()
    with pytest.raises(GalleryError, match="not a font pygame can read"):
        choose_font(str(mine), loads=pygame_loads)


def test_cli_missing_font_file_exits_2_with_one_line(studio, tmp_path, capsys):
    from installation.cli import main

    assert main(["gallery", "--studio", str(studio.root), "--font", str(tmp_path / "nope.ttf"), "--frames", "1",
                 "--windowed", "160x90"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "nope.ttf does not exist" in err[0], err


def test_this_machine_uses_an_installed_face_when_it_has_one(caplog):
    """Where the CI's fonts-dejavu-core (or any preferred face) is installed, pygame's own font is not used."""
    if not fonts_mod.index_files(fonts_mod.font_dirs()).keys() & {n for f in FACES for n in f.regular}:
        pytest.skip("no preferred face installed here")
    with caplog.at_level(logging.INFO, logger="installation.gallery.render"):
        choice = choose_display_font(None)
    assert choice.source == "installed" and choice.name in {f.name for f in FACES}
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("font: ")] == [choice.describe()]


# -- wrapping -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def measure():
    """Real text widths: pygame's bundled font (always there), at a gallery-like size."""
    pygame.font.init()
    font = pygame.font.Font(None, 40)
    return lambda text: font.size(text)[0]


def check_wrap(text: str, width: int, measure, max_lines: int) -> list[str]:
    """Wrap and check the promises: width, whole words (unless wider than a line), ellipsis exactly on overflow."""
    lines = wrap(text, width, measure, max_lines)
    words = text.split()
    assert len(lines) <= max_lines
    for line in lines:
        assert measure(line) <= width, f"{line!r} is {measure(line)} px, wider than {width}"
    tokens = [t for line in lines for t in line.removesuffix(ELLIPSIS).split()]
    if tokens and all(measure(w) <= width for w in words):
        *whole, last = tokens
        assert whole == words[:len(whole)], "words stay whole and in order"
        source = words[len(whole)]
        assert last in (source, source.rstrip(TRAILING)), f"{last!r} cut from {source!r}"
        overflow = len(tokens) < len(words) or last != source
        assert lines[-1].endswith(ELLIPSIS) == overflow, lines
        assert all(ELLIPSIS not in line for line in lines[:-1])
    return lines


def test_wrap_keeps_words_whole_and_within_the_width(measure):
    lines = check_wrap(LONG, 500, measure, 3)
    assert len(lines) == 3 and lines[-1].endswith(ELLIPSIS)
    assert check_wrap(SHORT, 2000, measure, 3) == [SHORT], "short text: one line, no ellipsis"
    rng = random.Random(0)
    vocabulary = LONG.split() + ["a", "I", "glacier,", "—", "melt;", "remembers."]
    for _ in range(300):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 60)))
        check_wrap(text, rng.randint(150, 1200), measure, rng.randint(1, 5))


def test_wrap_splits_only_a_word_wider_than_the_line(measure):
    word = "Gletscherschmelzwasserabflussmessung"
    width = measure(word) // 3
    lines = check_wrap(f"the {word} runs", width, measure, 10)
    assert "".join(lines[1:-1]) == word or "".join(lines[1:-1]).startswith(word[: len(word) // 2])
    assert lines[0] == "the" and lines[-1].endswith("runs") and len(lines) >= 4
    assert not any(ELLIPSIS in line for line in lines), "it all fits in 10 lines"


def test_ellipsis_drops_words_and_dangling_punctuation(measure):
    assert wrap("one two three four", 9, len, 2) == ["one two", "three" + ELLIPSIS]
    assert wrap("aaa bbbb, cccc", 10, len, 1) == ["aaa bbbb" + ELLIPSIS], "no ',…'"
    assert wrap("aaaa bbbbbbbb", 7, len, 1) == ["aaaa" + ELLIPSIS]
    assert wrap("incomprehensibilities", 8, len, 1) == ["incompr" + ELLIPSIS]
    assert wrap("   ", 8, len, 2) == []


def test_titles_wrap_into_balanced_lines(measure):
    title = "The Last Winter of the Rhône Glacier"
    assert wrap(title, 30, len, 2) == ["The Last Winter of the Rhône", "Glacier"]
    assert balanced_wrap(title, 30, len, 2) == ["The Last Winter of", "the Rhône Glacier"]
    assert balanced_wrap("Reef", 30, len, 2) == ["Reef"]
    assert balanced_wrap(LONG, 30, len, 2) == wrap(LONG, 30, len, 2), "overflowing text: as wrap makes it"
    rng = random.Random(1)
    for _ in range(100):
        text = " ".join(rng.choice(LONG.split()) for _ in range(rng.randint(1, 12)))
        width = rng.randint(200, 900)
        greedy, balanced = wrap(text, width, measure, 3), balanced_wrap(text, width, measure, 3)
        assert len(balanced) == len(greedy) and all(measure(line) <= width for line in balanced)
        assert " ".join(balanced) == " ".join(greedy) or greedy[-1].endswith(ELLIPSIS)


# -- layout ---------------------------------------------------------------------------------------------------------

def test_sizes_follow_the_short_side_and_lines_stay_readable_length():
    land, port, uhd = text_layout((1920, 1080)), text_layout((1080, 1920)), text_layout((3840, 2160))
    assert land == port, "a portrait screen gets the same sizes as the landscape one of the same pixels"
    assert uhd.body_px == 2 * land.body_px and 24 <= land.body_px <= 40 and land.title_px > land.body_px
    assert land.body_advance >= 1.25 * land.body_px, "running text needs some leading"
    assert land.measure == MEASURE_EM * land.body_px
    width, beside = text_width(land, 1920, 38, 407)
    assert beside and width == land.measure + 2 * land.pad_x < 1920 - 3 * 38 - 407
    width, beside = text_width(port, 1080, 38, 407)
    assert not beside and width == 1080 - 2 * 38, "too narrow beside the code: full width, above it"


# -- rendering: placement and contrast ------------------------------------------------------------------------------

def solid(size, colour) -> Prepared:
    w, h = size
    return Prepared(size=size, data=bytes([*colour, 0]) * (w * h), source_size=size, source_mode="RGB")


def render(size, colour, which=("title", "reflection", "qr"), reflection=LONG, font=None) -> np.ndarray:
    """The screen (H, W, 3) with one solid-colour piece and its overlays."""
    pygame.display.init()
    screen = pygame.display.set_mode(size)
    config = GalleryConfig(windowed=size, base_url="https://dstrtd.example", font=font)
    renderer = Renderer(screen, config, physical_px=size)
    assert renderer.add(1, "s", solid(size, colour))
    piece = PieceInfo(1, "glacier-3fa9c2", "/x.png", "s", title="The Last Winter of the Rhône Glacier",
                      reflection=reflection)
    frame = Frame(1, None, 0.0, View(), View(), frozenset(which), False, False, (1,), False)
    renderer.draw(frame, {1: piece})
    return pygame.surfarray.array3d(screen).transpose(1, 0, 2).copy()


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the True pixels, right/bottom exclusive."""
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)], ids=["landscape", "portrait"])
def test_panel_sits_beside_or_above_the_code_within_the_measure(size):
    grey = (128, 128, 128)
    img = render(size, grey).astype(int)
    qr = bbox((img >= 250).all(axis=2) & (np.arange(size[0]) > size[0] // 2)[None, :])
    outside_qr = np.ones(img.shape[:2], bool)
    outside_qr[qr[1]:qr[3], qr[0]:qr[2]] = False
    panel = bbox((img < 100).all(axis=2) & outside_qr)
    lay = text_layout(size)
    assert panel[2] - panel[0] <= lay.measure + 2 * lay.pad_x + 2
    assert panel[0] >= 0.02 * min(size) and panel[2] <= size[0] and panel[3] <= size[1]
    if size[0] > size[1]:
        assert panel[2] < qr[0] and panel[3] == pytest.approx(qr[3], abs=2), "beside the code, bottoms aligned"
    else:
        assert panel[3] < qr[1], "portrait: above the code"
        assert panel[2] - panel[0] > 0.8 * size[0], "using the screen's width"


def panel_contrast(art, font=None) -> tuple[float, tuple, tuple]:
    """Contrast of the text on the panel, measured in the rendered pixels: the panel is what the text overlay
    changed; its typical pixel is the panel, its brightest ones the text's strokes."""
    size = (960, 540)
    bare = render(size, art, which=()).astype(int)
    shown = render(size, art, which=("title", "reflection"), font=font).astype(int)
    changed = np.abs(shown - bare).sum(axis=2) > 0
    region = shown[slice(*bbox(changed)[1::2]), slice(*bbox(changed)[::2])].reshape(-1, 3)
    luma = region @ np.array([0.2126, 0.7152, 0.0722])
    order = np.argsort(luma)
    background = tuple(region[order[len(order) // 4]])  # the panel: most of the region, darker than the text
    ink = tuple(region[order[-max(1, len(order) // 200):]].mean(axis=0))  # the strokes' solid middles
    return contrast_ratio(ink, background), ink, background


@pytest.mark.parametrize("art", [(255, 255, 255), (232, 240, 248), (0, 0, 0)], ids=["white", "glacier", "black"])
def test_text_contrast_over_bright_and_dark_pieces(art):
    ratio, ink, background = panel_contrast(art)
    assert ratio >= 7.0, f"text {ink} on panel {background}: {ratio:.1f}:1, below WCAG AAA's 7:1"
    assert min(ink) >= 225, "solid strokes keep the text colour (antialiasing composited without darkening)"


def test_contrast_over_white_with_pygames_bundled_font(monkeypatch):
    monkeypatch.setattr(fonts_mod, "font_dirs", lambda: [])
    monkeypatch.setattr(pygame.font, "match_font", lambda *a, **k: None)
    ratio, _, _ = panel_contrast((255, 255, 255))
    assert ratio >= 7.0


def test_font_choice_reaches_the_renderer(tmp_path):
    pygame.display.init()
    screen = pygame.display.set_mode((320, 180))
    choice = FontChoice("x", None, None, "bundled")
    assert Renderer(screen, GalleryConfig(windowed=(320, 180)), fonts=choice).fonts is choice


def test_text_edges_are_composited_like_over():
    """A pixel the text half covers shows half text, half panel-over-piece (pygame's own blit would darken it)."""
    from installation.gallery.render import PANEL_COLOUR, TEXT_COLOUR, _over_table

    table = _over_table().astype(float)
    panel = PANEL_COLOUR[3] / 255
    for coverage in (0, 40, 128, 200, 255):
        c = coverage / 255
        rgb, a = table[coverage, :3], table[coverage, 3] / 255
        for piece in (0.0, 255.0):
            shown = rgb * a + piece * (1 - a)
            ideal = c * np.array(TEXT_COLOUR) + (1 - c) * (panel * np.array(PANEL_COLOUR[:3]) + (1 - panel) * piece)
            assert np.abs(shown - ideal).max() <= 1.5, (coverage, piece, shown, ideal)


def test_warmed_overlays_are_drawn_without_being_made_again(monkeypatch):
    pygame.display.init()
    size = (640, 360)
    screen = pygame.display.set_mode(size)
    renderer = Renderer(screen, GalleryConfig(windowed=size, base_url="https://dstrtd.example"), physical_px=size)
    assert renderer.add(1, "s", solid(size, (128, 128, 128)))
    piece = PieceInfo(1, "p", "/x.png", "s", title="Reef", reflection=SHORT)
    which = frozenset({"title", "reflection", "qr"})
    renderer.warm(piece, which)

    def fail(*args):
        raise AssertionError("made again while drawing")

    monkeypatch.setattr(renderer, "_make_text", fail)
    monkeypatch.setattr(renderer, "_make_qr", fail)
    renderer.draw(Frame(1, None, 0.0, View(), View(), which, False, False, (1,), False), {1: piece})
    img = pygame.surfarray.array3d(screen)
    assert (img < 60).all(axis=2).any() and (img > 240).all(axis=2).any(), "panel and text were drawn"
