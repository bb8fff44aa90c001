"""QR codes for the pieces' pages: one place that decides error correction and quiet zone. No torch."""

from __future__ import annotations

from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image

ErrorLevel = Literal["L", "M", "Q", "H"]
_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
QUIET_ZONE = 4  # modules; why: the QR specification's minimum, scanners fail more often below it


def qr_matrix(data: str, error: ErrorLevel = "Q", border: int = QUIET_ZONE) -> list[list[bool]]:
    """The code's modules (True = dark), quiet zone included, so any renderer can draw it at any size."""
    if error not in _LEVELS:
        raise ValueError(f"QR error correction must be one of L, M, Q, H, not {error!r}")
    qr = qrcode.QRCode(error_correction=_LEVELS[error], border=border, box_size=1)
    qr.add_data(data)
    qr.make(fit=True)
    return [list(row) for row in qr.get_matrix()]


def qr_image(data: str, size_px: int, error: ErrorLevel = "Q", border: int = QUIET_ZONE,
             dark: tuple[int, int, int] = (0, 0, 0), light: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An RGB image of the code, at least `size_px` wide, with whole-pixel modules (never blurred by resampling)."""
    matrix = qr_matrix(data, error, border)
    n = len(matrix)
    module = max(1, -(-size_px // n))  # ceil: modules must be whole pixels
    mask = Image.new("L", (n, n))
    mask.putdata([255 if cell else 0 for row in matrix for cell in row])
    mask = mask.resize((n * module, n * module), Image.Resampling.NEAREST)
    out = Image.new("RGB", mask.size, light)
    out.paste(dark, mask=mask)
    return out
