"""generator.common.images: one decoder for the gallery and the curators; odd modes converted, broken and huge files
refused with a reason, never a crash."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generator.common.errors import UnreadableImage
from generator.common.images import open_rgb, to_rgb


def load_rgb(path, *, max_pixels, background=(0, 0, 0)):
    decoded = open_rgb(path, max_pixels=max_pixels, background=background)
    return decoded.image, decoded.source_size, decoded.source_mode


def png_16bit_rgb(path: Path, w: int, h: int, rgb16: tuple[int, int, int]) -> Path:
    """A 48-bit RGB PNG written by hand (Pillow cannot write one)."""
    row = b"\x00" + struct.pack(">" + "H" * 3 * w, *(list(rgb16) * w))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(row * h)) + chunk(b"IEND", b""))
    return path


def centre(im: Image.Image) -> tuple[int, ...]:
    return im.getpixel((im.width // 2, im.height // 2))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(tmp_path / "c.jpg", "JPEG", quality=95)  # pure red ink
    im, _, mode = load_rgb(tmp_path / "c.jpg", max_pixels=10**6)
    assert mode == "CMYK" and im.mode == "RGB"
    r, g, b = centre(im)
    assert r > 200 and g < 60 and b < 60


def test_16bit_grey_is_scaled_not_clipped(tmp_path):
    a = np.full((16, 16), 32768, np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    im, _, mode = load_rgb(tmp_path / "g16.png", max_pixels=10**6)
    assert mode.startswith("I") and im.mode == "RGB" and centre(im) == (128, 128, 128)


def test_16bit_rgb(tmp_path):
    im, _, _ = load_rgb(png_16bit_rgb(tmp_path / "rgb16.png", 8, 8, (65535, 32768, 0)), max_pixels=10**6)
    assert centre(im) == (255, 128, 0)


def test_alpha_and_palette_land_on_the_background(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    im, _, _ = load_rgb(tmp_path / "clear.png", max_pixels=10**6, background=(0, 0, 255))
    assert centre(im) == (0, 0, 255), "a transparent pixel shows the background, not its hidden colour"
    half = Image.new("LA", (10, 10), (255, 128))
    half.save(tmp_path / "la.png")
    assert centre(load_rgb(tmp_path / "la.png", max_pixels=10**6, background=(0, 0, 0))[0])[0] == pytest.approx(128, 1)
    pal = Image.new("RGB", (10, 10), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    pal.save(tmp_path / "p.png")
    assert centre(load_rgb(tmp_path / "p.png", max_pixels=10**6)[0]) == (10, 200, 30)


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    im.save(tmp_path / "rot.jpg", exif=exif)
    assert load_rgb(tmp_path / "rot.jpg", max_pixels=10**6)[0].size == (20, 40)


@pytest.mark.parametrize("make, reason", [
    (lambda p: None, "missing"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"not an image at all"), "not a readable image"),
    (lambda p: p.write_bytes(_png_bytes()[:-200]), "not a readable image"),  # truncated
])
def test_broken_files_are_refused_with_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(UnreadableImage, match=reason):
        open_rgb(path)


def _png_bytes() -> bytes:
    import io

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("side, reason", [(9000, "81.0 Mpx, over the limit of 64.0 Mpx"),
                                          (14000, "decompression bomb")])
def test_pixel_limit_is_checked_before_decoding(tmp_path, side, reason):
    # One-bit PNGs of one colour: tiny on disk, hundreds of MB once decoded. 9000^2 passes Pillow's own guard
    # (89 Mpx) but not ours; 14000^2 trips Pillow's hard limit at open.
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(path, optimize=False)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(UnreadableImage, match=reason):
        open_rgb(path, max_pixels=64_000_000)


def test_to_rgb_on_a_decoded_image_matches_the_file_reader(tmp_path):
    rgba = Image.new("RGBA", (6, 6), (255, 0, 0, 0))
    assert centre(to_rgb(rgba, (0, 255, 0))) == (0, 255, 0)
    assert centre(to_rgb(rgba)) == (0, 0, 0), "the default background is the gallery's"


def test_an_srgb_tagged_image_keeps_its_colours_through_the_icc_path(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (8, 8), (10, 120, 240)).save(tmp_path / "tagged.png", icc_profile=srgb)
    im = open_rgb(tmp_path / "tagged.png").image
    assert im.mode == "RGB" and all(abs(a - b) <= 2 for a, b in zip(centre(im), (10, 120, 240), strict=True))
