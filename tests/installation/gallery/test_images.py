"""The gallery fits decoded pieces to the screen; decoding itself is tested in tests/generator/common/."""

from __future__ import annotations

import pytest
from PIL import Image

from generator.common.errors import UnreadableImage
from installation.gallery.images import RAW_MODE, fit, prepare


def centre(im: Image.Image) -> tuple[int, ...]:
    return im.getpixel((im.width // 2, im.height // 2))


def test_rgb_png_round_trip(tmp_path):
    Image.new("RGB", (40, 30), (200, 40, 10)).save(tmp_path / "a.png")
    prepared = prepare(tmp_path / "a.png", (80, 60))
    assert prepared.size == (80, 60) and prepared.source_size == (40, 30)
    px = Image.frombytes("RGB", prepared.size, prepared.data, "raw", RAW_MODE)
    assert centre(px) == (200, 40, 10)


def test_transparent_piece_lands_on_the_gallery_background(tmp_path):
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    prepared = prepare(tmp_path / "clear.png", (10, 10), background=(0, 0, 255))
    assert centre(Image.frombytes("RGB", prepared.size, prepared.data, "raw", RAW_MODE)) == (0, 0, 255)


def test_a_broken_piece_is_refused_with_a_reason(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(UnreadableImage, match="not a readable image"):
        prepare(tmp_path / "bad.png", (64, 48))


def test_fit_modes(tmp_path):
    wide = Image.new("RGB", (200, 100), (255, 255, 255))
    box = fit(wide, (100, 100), "letterbox", (10, 20, 30))
    assert box.size == (100, 100) and box.getpixel((50, 5)) == (10, 20, 30) and box.getpixel((50, 50)) == (255,) * 3
    filled = fit(wide, (100, 100), "fill", (10, 20, 30))
    assert filled.getpixel((50, 5)) == (255, 255, 255)
