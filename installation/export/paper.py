"""Paper sizes: ISO A-series names, a few US names, or a custom `WxH` with a unit (`300x400mm`, `12x18in`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from installation.export.errors import ExportError

MM_PER_INCH = 25.4

# ISO 216 portrait sizes in millimetres.
NAMED_SIZES_MM: dict[str, tuple[float, float]] = {
    "A5": (148, 210),
    "A4": (210, 297),
    "A3": (297, 420),
    "A2": (420, 594),
    "A1": (594, 841),
    "A0": (841, 1189),
    "LETTER": (215.9, 279.4),
    "TABLOID": (279.4, 431.8),
}
_UNITS_MM = {"mm": 1.0, "cm": 10.0, "in": MM_PER_INCH}
_CUSTOM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[x×]\s*(\d+(?:\.\d+)?)\s*(mm|cm|in)\s*$", re.IGNORECASE)
MIN_SIDE_MM = 50.0  # why: below 5 cm the 2.5 cm QR code and its quiet zone no longer fit beside an artwork
MAX_SIDE_MM = 5000.0


@dataclass(frozen=True)
class PaperSize:
    """A trimmed sheet, portrait as named; `name` is what file names use (`A3`, `300x400mm`)."""

    name: str
    width_mm: float
    height_mm: float

    def oriented(self, orientation: str) -> PaperSize:
        """This size turned `portrait` (taller than wide) or `landscape`."""
        short, long_ = sorted((self.width_mm, self.height_mm))
        if orientation == "portrait":
            return PaperSize(self.name, short, long_)
        if orientation == "landscape":
            return PaperSize(self.name, long_, short)
        raise ExportError(f"orientation must be portrait or landscape, not {orientation!r}")


def parse_size(text: str) -> PaperSize:
    """`A3` (any case), `letter`, or `WxH` + `mm|cm|in`, e.g. `300x400mm`, `30x40cm`, `12x18in`."""
    key = text.strip().upper()
    if key in NAMED_SIZES_MM:
        w, h = NAMED_SIZES_MM[key]
        return PaperSize(key if key.startswith("A") else key.lower(), float(w), float(h))
    m = _CUSTOM_RE.match(text)
    if not m:
        known = ", ".join(NAMED_SIZES_MM)
        raise ExportError(f"unknown paper size {text!r}: use one of {known} or a custom size like 300x400mm, "
                          "30x40cm or 12x18in")
    unit = m.group(3).lower()
    w, h = float(m.group(1)) * _UNITS_MM[unit], float(m.group(2)) * _UNITS_MM[unit]
    for side in (w, h):
        if not MIN_SIDE_MM <= side <= MAX_SIDE_MM:
            raise ExportError(f"paper size {text!r}: each side must be between {MIN_SIDE_MM:g} and "
                              f"{MAX_SIDE_MM:g} mm")
    name = f"{m.group(1)}x{m.group(2)}{unit}"
    return PaperSize(name, w, h)


def mm_to_px(mm: float, dpi: float) -> int:
    return round(mm / MM_PER_INCH * dpi)


def px_to_mm(px: float, dpi: float) -> float:
    return px / dpi * MM_PER_INCH
