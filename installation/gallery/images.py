"""Fitting a piece to the screen, once, off the render path (Pillow only).

Whatever a file holds, `prepare` returns an RGB canvas of exactly the asked size, or raises `UnreadableImage` with a
one-line reason; decoding (EXIF, alpha, 16-bit, ICC, the pixel cap checked before decoding) is
`generator.common.images.open_rgb`, the same for the gallery and the curators.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image, ImageOps

from generator.common.images import open_rgb

RAW_MODE = "RGBX"  # bytes handed to the display; why: 4 bytes a pixel converts to a display surface fastest


@dataclass(frozen=True)
class Prepared:
    """A piece fitted to a canvas: `size` (W, H) pixels of `RAW_MODE` bytes, ready for `pygame.image.frombuffer`."""

    size: tuple[int, int]
    data: bytes
    source_size: tuple[int, int]  # the file's own pixel size
    source_mode: str  # the file's own Pillow mode (for the log)


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
    decoded = open_rgb(path, max_pixels=max_pixels, background=background, draft_size=size)
    canvas = fit(decoded.image, size, fit_mode, background)
    return Prepared(size=canvas.size, data=canvas.tobytes("raw", RAW_MODE), source_size=decoded.source_size,
                    source_mode=decoded.source_mode)
