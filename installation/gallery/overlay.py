"""Overlay geometry without pygame: how big the QR code must be to scan from across the room, and text wrapping.

QR size. A phone reads a code from about ten times its width (the usual 10:1 rule of thumb of QR printers and
generators; it holds for printed codes, and a lit screen reads at least as well). A visitor at `scan_distance`
metres therefore needs a symbol `scan_distance / 10` wide, e.g. 20 cm at 2 m. We do not know the screen's physical
size (SDL reports no reliable DPI, least of all for TVs), so we assume its diagonal (`screen_inches`, 55" by
default) and get pixels per metre from the real pixel size. Modules are whole pixels (rounded up, never blurred)
and the quiet zone of `installation.qr.QUIET_ZONE` modules is kept around the symbol. The whole code is capped at
`MAX_SIDE_FRACTION` of the screen's short side so the art stays the main thing; when the cap bites, the log says
from how far the smaller code still scans. Worked example: a 55" 1920x1080 screen has 1.58 px/mm; a 29-module
symbol (version 3, our URLs at level M) for 2 m needs 6.9 mm modules = 11 px, 407 px with the quiet zone, 38 % of
the screen's height. On a 55" 4K screen the same code is 22 px a module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from installation.qr import QUIET_ZONE

SCAN_RATIO = 10.0  # scan distance / symbol width; why: the 10:1 rule of thumb for phone cameras
MAX_SIDE_FRACTION = 0.4  # of the screen's short side, quiet zone included
MIN_MODULE_PX = 2  # why: one-pixel modules alias on TVs that rescale their input
QR_ERROR = "M"  # why: a screen is never creased or dirty like a poster; fewer modules -> larger modules


@dataclass(frozen=True)
class QrSize:
    module_px: int
    side_px: int  # the whole code, quiet zone included
    scan_distance: float  # metres from which this size reads, by the 10:1 rule
    capped: bool  # smaller than `scan_distance` asked for, to stay within MAX_SIDE_FRACTION


def pixels_per_metre(screen_px: tuple[int, int], screen_inches: float) -> float:
    return math.hypot(*screen_px) / (screen_inches * 0.0254)


def qr_size(symbol_modules: int, screen_px: tuple[int, int], *, screen_inches: float, scan_distance: float,
            room_px: tuple[int, int] | None = None, quiet_zone: int = QUIET_ZONE) -> QrSize:
    """Module and total size in pixels of a code `symbol_modules` wide (without quiet zone).

    `screen_px` is the whole screen's pixel size (for the pixel density); `room_px` the surface drawn on, when it
    is smaller (a window), for the cap.
    """
    per_m = pixels_per_metre(screen_px, screen_inches)
    module_px = max(MIN_MODULE_PX, math.ceil(scan_distance / SCAN_RATIO / symbol_modules * per_m))
    total_modules = symbol_modules + 2 * quiet_zone
    cap = max(1, int(MAX_SIDE_FRACTION * min(room_px or screen_px) // total_modules))
    capped = module_px > cap
    module_px = min(module_px, cap)
    return QrSize(module_px=module_px, side_px=module_px * total_modules,
                  scan_distance=module_px * symbol_modules / per_m * SCAN_RATIO, capped=capped)


def wrap(text: str, width: int, measure: Callable[[str], int], max_lines: int) -> list[str]:
    """Greedy word wrap to `width` (pixels, by `measure`); the last line ends in an ellipsis when text is left."""
    words = text.split()
    lines: list[str] = []
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and measure(f"{line} {words[0]}") <= width:
            line += " " + words.pop(0)
        lines.append(line)
    if lines and (words or measure(lines[-1]) > width):
        last = lines[-1]
        while last and measure(last + "…") > width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…" if (words or last != lines[-1]) else last
    return lines
