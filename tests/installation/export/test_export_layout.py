"""Poster sizes and layout: paper names, the config's refusals, and the geometry arithmetic (pure, no drawing)."""

from __future__ import annotations

import pytest

from installation.export.config import PosterConfig
from installation.export.errors import ExportError
from installation.export.layout import poster_geometry
from installation.export.paper import mm_to_px, parse_size
from installation.qr import QUIET_ZONE

URL = "https://dstrtd.example.org/p/coral-reef-abc123"


# -- sizes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("A4", (210, 297)), ("a3", (297, 420)), ("A2", (420, 594)), ("300x400mm", (300, 400)), ("30x40cm", (300, 400)),
    ("12x18in", (304.8, 457.2)),
])
def test_parse_size(text: str, expected: tuple[float, float]) -> None:
    size = parse_size(text)
    assert (size.width_mm, size.height_mm) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["B4", "300x400", "10x10mm", "axbmm"])
def test_parse_size_rejects_with_a_hint(text: str) -> None:
    with pytest.raises(ExportError, match=r"A3|between"):
        parse_size(text)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"qr_error": "L"}, "Q or H"), ({"qr_mm": 20}, "at least 25"), ({"size": "B7"}, "unknown paper size"),
    ({"pdf": False, "png": False}, "nothing to write"), ({"background": "notacolour"}, "not a colour"),
])
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        PosterConfig(**kwargs)


def test_geometry_of_an_a3_poster() -> None:
    geo = poster_geometry(PosterConfig(size="A3"), (512, 512), URL)
    assert geo.page == (3508, 4961)  # 297 x 420 mm at 300 dpi
    assert geo.trim == (0, 0, 3508, 4961) and geo.bleed == geo.trim
    symbol_mm = geo.qr_module * (geo.qr_modules - 2 * QUIET_ZONE) / 300 * 25.4
    assert symbol_mm >= 25.0
    assert geo.qr_module % 8 == 0 and geo.qr[0] % 8 == 0 and geo.qr[1] % 8 == 0  # whole JPEG blocks
    ax, ay, aw, ah = geo.art
    qx, qy, q, _ = geo.qr
    assert aw == ah and aw > 0.8 * 3508  # the artwork large
    assert qy + QUIET_ZONE * geo.qr_module > ay + ah  # the code below the artwork ...
    assert qx + q - QUIET_ZONE * geo.qr_module == ax + aw  # ... its dark modules flush with the artwork's edge
    assert qx + q <= 3508 and qy + q <= 4961
    assert geo.effective_dpi == pytest.approx(512 * 300 / aw)


def test_geometry_with_bleed_and_crop_marks() -> None:
    geo = poster_geometry(PosterConfig(size="A4", bleed=True, crop_marks=True), (512, 512), URL)
    tx, ty, tw, th = geo.trim
    assert (tw, th) == (mm_to_px(210, 300), mm_to_px(297, 300))
    bleed = mm_to_px(3, 300)
    assert geo.bleed == (tx - bleed, ty - bleed, tw + 2 * bleed, th + 2 * bleed)
    assert geo.page[0] > tw + 2 * bleed
    bx, by, bw, bh = geo.bleed
    assert len(geo.marks) == 8
    for x, y, w, h in geo.marks:  # no mark reaches into the bleed
        assert x + w <= bx or x >= bx + bw or y + h <= by or y >= by + bh


def test_fill_layout_crops_to_the_sheet_and_reports_the_crop() -> None:
    geo = poster_geometry(PosterConfig(size="A4", layout="fill"), (512, 512), URL)
    left, top, right, bottom = geo.art_crop
    assert (right - left) / (bottom - top) == pytest.approx(210 / 297, abs=0.01)
    assert geo.art == geo.bleed


def test_orientation_auto_follows_the_artwork() -> None:
    geo = poster_geometry(PosterConfig(size="A3", orientation="auto"), (600, 400), URL)
    assert geo.page[0] > geo.page[1]


def test_the_code_stays_on_the_sheet_with_no_margin() -> None:
    geo = poster_geometry(PosterConfig(size="A4", margin_mm=0), (512, 512), URL)
    qx, qy, tile, _ = geo.qr
    assert qx + tile <= geo.trim[0] + geo.trim[2] and qy + tile <= geo.trim[1] + geo.trim[3]
    with pytest.raises(ExportError, match="no room"):
        poster_geometry(PosterConfig(size="50x50mm", qr_mm=40), (512, 512), URL)
