"""Any image file to the 8-bit sRGB pixels a person would see, the same for every part that reads images.

The gallery shows, the scorer and the aligner score, and the trainers learn on exactly these pixels: EXIF
orientation applied, alpha laid on a stated background, 16-bit and float grey scaled to 8 bits, palettes expanded,
and embedded ICC profiles (CMYK, wide-gamut RGB) converted to sRGB. Files are checked before they are decoded
(size on disk, pixel count from the header), so a decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from generator.common.errors import UnreadableImage

log = logging.getLogger(__name__)

# why black: the gallery lays transparent pieces on its background, black by default; the curators must see the same
DISPLAY_BACKGROUND: tuple[int, int, int] = (0, 0, 0)
MAX_FILE_BYTES = 512 * 1024 * 1024  # why: no real piece or photo comes near; refuse before reading a runaway file
MAX_PIXELS = 64_000_000  # why: 8k x 8k, far above any screen or print we make; about 256 MB once decoded

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass(frozen=True)
class Decoded:
    """An image as `to_rgb` returns it, with what the file itself held (for logs and refusals)."""

    image: Image.Image  # 8-bit RGB, upright
    source_size: tuple[int, int]  # the file's own (W, H)
    source_mode: str  # the file's own Pillow mode


def _apply_icc(im: Image.Image, icc: bytes) -> Image.Image | None:
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except Exception as exc:  # a broken or unsupported profile: the plain conversion is still a fair picture
        log.debug("ICC profile not applied (%s); converting plainly", exc)
        return None


def _grey_to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(a * scale, 0, 255).astype(np.uint8), "L").convert("RGB")
    a = np.asarray(im).astype(np.int64)
    if mode == "I" and a.max(initial=0) <= 255 and a.min(initial=0) >= 0:
        return Image.fromarray(a.astype(np.uint8), "L").convert("RGB")
    return Image.fromarray((np.clip(a, 0, 65535) >> 8).astype(np.uint8), "L").convert("RGB")


def to_rgb(im: Image.Image, background: tuple[int, int, int] = DISPLAY_BACKGROUND) -> Image.Image:
    """Any decoded Pillow image as upright 8-bit sRGB; transparent pixels laid on `background`."""
    im = ImageOps.exif_transpose(im)
    mode = im.mode
    icc = im.info.get("icc_profile")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _grey_to_rgb(im)
    if mode in _ALPHA_MODES or (mode in ("P", "L", "RGB", "1") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        rgb = Image.alpha_composite(base, rgba).convert("RGB")
        if icc and mode in ("RGBA", "RGBa"):
            return _apply_icc(rgb, icc) or rgb
        return rgb
    if icc and mode in ("CMYK", "RGB"):
        converted = _apply_icc(im, icc)
        if converted is not None:
            return converted
    return im if mode == "RGB" else im.convert("RGB")


def open_rgb(path: str | os.PathLike[str], *, background: tuple[int, int, int] = DISPLAY_BACKGROUND,
             max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_FILE_BYTES,
             draft_size: tuple[int, int] | None = None) -> Decoded:
    """Decode the file at `path` with `to_rgb`, or raise `UnreadableImage` with a one-line reason (without the
    path: callers say which file).

    `max_pixels` is checked from the header before anything is decoded. `draft_size` lets a JPEG decode at 1/2,
    1/4 or 1/8 of its size when that still covers `draft_size` (the caller resizes anyway).
    """
    try:
        nbytes = os.stat(path).st_size
    except FileNotFoundError:
        raise UnreadableImage("file is missing") from None
    except OSError as exc:
        raise UnreadableImage(f"file cannot be read ({exc.strerror or exc})") from None
    if nbytes == 0:
        raise UnreadableImage("file is empty")
    if nbytes > max_bytes:
        raise UnreadableImage(f"file is {nbytes / 2**20:.0f} MiB, over the "
                              f"{max_bytes / 2**20:.0f} MiB limit")
    try:
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
            if w <= 0 or h <= 0:
                raise UnreadableImage(f"image has no pixels ({w}x{h})")
            if w * h > max_pixels:
                raise UnreadableImage(f"{w}x{h} is {w * h / 1e6:.1f} Mpx, over the limit of "
                                      f"{max_pixels / 1e6:.1f} Mpx")
            mode = im.mode
            if draft_size is not None and im.format == "JPEG":
                im.draft("RGB", draft_size)
            im.load()
            return Decoded(to_rgb(im, background), (w, h), mode)
    except UnreadableImage:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(f"refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise UnreadableImage(f"not a readable image ({type(exc).__name__}: {exc})") from None
