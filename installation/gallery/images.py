"""Decoding a piece safely and fitting it to the screen, once, off the render path (Pillow and numpy only).

Whatever a file holds, `prepare` returns an RGB canvas of exactly the asked size, or raises `ImageProblem` with a
one-line reason: missing, empty, too many pixels (checked from the header, before anything is decoded, so a
decompression bomb costs nothing), truncated or corrupt. Odd modes are converted: CMYK (with its ICC profile when
it has one), 16-bit and 32-bit grey, palettes, and anything with alpha is laid on the background colour.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024 * 1024  # why: no real piece comes near; refuse before reading a runaway file
RAW_MODE = "RGBX"  # bytes handed to the display; why: 4 bytes a pixel converts to a display surface fastest


class ImageProblem(Exception):
    """A piece that cannot be shown; the message says why in one line."""


@dataclass(frozen=True)
class Prepared:
    """A piece fitted to a canvas: `size` (W, H) pixels of `RAW_MODE` bytes, ready for `pygame.image.frombuffer`."""

    size: tuple[int, int]
    data: bytes
    source_size: tuple[int, int]  # the file's own pixel size
    source_mode: str  # the file's own Pillow mode (for the log)


def _to_rgb(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; alpha composited over `background`."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.int64)
        if mode == "I" and a.max(initial=0) <= 255 and a.min(initial=0) >= 0:
            return Image.fromarray(a.astype(np.uint8), "L").convert("RGB")
        return Image.fromarray((np.clip(a, 0, 65535) >> 8).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(a * scale, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "RGB", "1") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if mode in ("CMYK", "RGB") and im.info.get("icc_profile"):
        converted = _icc_to_srgb(im)
        if converted is not None:
            return converted
    return im if mode == "RGB" else im.convert("RGB")


def _icc_to_srgb(im: Image.Image) -> Image.Image | None:
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except Exception as exc:  # a broken or unsupported profile: plain conversion is still a fair picture
        log.debug("ICC profile not applied (%s); converting plainly", exc)
        return None


def load_rgb(path: str | os.PathLike[str], *, max_pixels: int, background: tuple[int, int, int] = (0, 0, 0),
             draft_size: tuple[int, int] | None = None) -> tuple[Image.Image, tuple[int, int], str]:
    """Decode `path` to RGB: (image, the file's size, the file's mode). `draft_size` lets JPEG decode smaller."""
    try:
        nbytes = os.stat(path).st_size
    except FileNotFoundError:
        raise ImageProblem("file is missing") from None
    except OSError as exc:
        raise ImageProblem(f"file cannot be read ({exc.strerror or exc})") from None
    if nbytes == 0:
        raise ImageProblem("file is empty")
    if nbytes > MAX_FILE_BYTES:
        raise ImageProblem(f"file is {nbytes / 2**20:.0f} MiB, over the {MAX_FILE_BYTES / 2**20:.0f} MiB limit")
    try:
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
            if w <= 0 or h <= 0:
                raise ImageProblem(f"image has no pixels ({w}x{h})")
            if w * h > max_pixels:
                raise ImageProblem(f"{w}x{h} is {w * h / 1e6:.1f} Mpx, over the limit of {max_pixels / 1e6:.1f} Mpx")
            mode = im.mode
            if draft_size is not None and im.format == "JPEG":
                im.draft("RGB", draft_size)  # decode at 1/2, 1/4 or 1/8 size when that still covers the screen
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im, background), (w, h), mode
    except ImageProblem:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageProblem(f"refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageProblem(f"not a readable image ({type(exc).__name__}: {exc})") from None


def fit(im: Image.Image, size: tuple[int, int], mode: str, background: tuple[int, int, int]) -> Image.Image:
    """`im` scaled to exactly `size`: whole and centred on `background` (letterbox), or covering it (fill, crops)."""
    if im.size == size:
        return im
    if mode == "fill":
        return ImageOps.fit(im, size, Image.Resampling.LANCZOS)
    return ImageOps.pad(im, size, Image.Resampling.LANCZOS, color=background)


def prepare(path: str | os.PathLike[str], size: tuple[int, int], *, fit_mode: str = "letterbox",
            background: tuple[int, int, int] = (0, 0, 0), max_pixels: int = 64_000_000) -> Prepared:
    """Decode, convert and fit one piece to a `size` canvas (runs on the preload thread)."""
    im, source_size, source_mode = load_rgb(path, max_pixels=max_pixels, background=background, draft_size=size)
    canvas = fit(im, size, fit_mode, background)
    return Prepared(size=canvas.size, data=canvas.tobytes("raw", RAW_MODE), source_size=source_size,
                    source_mode=source_mode)
