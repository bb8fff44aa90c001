"""A fast PNG writer for print-size pages; it writes through `generator.common.files.atomic_path`, so a page
appears under its final name complete or not at all."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from generator.common.files import atomic_path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _text_chunk(key: str, value: str) -> bytes:
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def encode_png(image: Image.Image, *, dpi: float | None = None, text: Mapping[str, str] | None = None,
               level: int = 1, rows_per_block: int = 256) -> Iterator[bytes]:
    """Yield the bytes of an 8-bit RGB PNG of `image`, tagged sRGB, with `dpi` (pHYs) and text chunks.

    Why not `Image.save(..., "PNG")`: Pillow tries all five PNG filters on every row, which costs twice the time of
    the compression itself on a 17-megapixel A3 page. One "Up" filter computed with numpy and zlib's RLE strategy
    at level 1 write the same pixels in about half the time, for files about 25 % larger.
    """
    arr = np.asarray(image.convert("RGB"))
    height, width, _ = arr.shape
    yield b"\x89PNG\r\n\x1a\n"
    yield _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    yield _chunk(b"sRGB", b"\x00")  # perceptual rendering intent
    if dpi:
        ppm = round(dpi / 0.0254)
        yield _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
    for key, value in (text or {}).items():
        yield _text_chunk(key, value)
    comp = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    row_bytes = width * 3
    for start in range(0, height, rows_per_block):
        stop = min(height, start + rows_per_block)
        block = np.empty((stop - start, row_bytes + 1), np.uint8)
        block[:, 0] = 2  # PNG filter type "Up": each byte minus the byte above it
        body = block[:, 1:].reshape(stop - start, width, 3)
        if start == 0:
            body[0] = arr[0]
            np.subtract(arr[1:stop], arr[: stop - 1], out=body[1:])
        else:
            np.subtract(arr[start:stop], arr[start - 1: stop - 1], out=body)
        data = comp.compress(block)  # zlib reads the array's buffer: no copy
        if data:
            yield _chunk(b"IDAT", data)
    yield _chunk(b"IDAT", comp.flush())
    yield _chunk(b"IEND", b"")


def write_png(dest: str | os.PathLike[str], image: Image.Image, *, dpi: float | None = None,
              text: Mapping[str, str] | None = None, level: int = 1) -> Path:
    """Write `image` as PNG atomically (see `encode_png`)."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        for part in encode_png(image, dpi=dpi, text=text, level=level):
            f.write(part)
    return Path(dest)
