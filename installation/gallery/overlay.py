"""Overlay geometry without pygame: how big the QR code must be to scan from across the room, and the text panel.

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

Text. Sizes, line heights and the panel's padding are fractions of the screen's short side (the height of a
landscape screen, the width of a portrait one, which also limits the line length there), so a 4K screen shows the
same layout as 1080p, sharper. Lines are at most `MEASURE_EM` body sizes wide, wrapped at spaces, and end with an
ellipsis when the text does not fit in its lines. Contrast is WCAG 2's ratio; the renderer's panel keeps white text
above 7:1 (AAA) even over a white piece.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from installation.qr import QUIET_ZONE

SCAN_RATIO = 10.0  # scan distance / symbol width; why: the 10:1 rule of thumb for phone cameras
MAX_SIDE_FRACTION = 0.4  # of the screen's short side, quiet zone included
MIN_MODULE_PX = 2  # why: one-pixel modules alias on TVs that rescale their input
QR_ERROR = "M"  # why: a screen is never creased or dirty like a poster; fewer modules -> larger modules
ELLIPSIS = "\u2026"
TRAILING = " ,;:\u2013\u2014-"  # stripped before an ellipsis


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


def fit_prefix(word: str, width: float, measure: Callable[[str], float]) -> int:
    """How many leading characters of `word` fit in `width` (at least one). Galloping, then bisection: the measured
    prefixes are at most twice as long as the answer, so cutting a word into lines costs work linear in its length
    (trying every shorter prefix made a 5,000-character title cost minutes a frame)."""
    n = len(word)
    good, probe = 1, 2
    while probe <= n and measure(word[:probe]) <= width:
        good, probe = probe, probe * 2
    bad = min(probe, n + 1)  # the shortest length known not to fit (n + 1: the whole word may)
    while bad - good > 1:
        mid = (good + bad) // 2
        if measure(word[:mid]) <= width:
            good = mid
        else:
            bad = mid
    return good


def split_word(word: str, width: float, measure: Callable[[str], float]) -> Iterator[str]:
    """A word wider than `width` cut into pieces that fit (at least one character each), lazily: a caller that
    needs two lines never pays for the rest of a long word. The only word cutting."""
    while word:
        cut = fit_prefix(word, width, measure)
        yield word[:cut]
        word = word[cut:]


def _tokens(text: str, width: int, measure: Callable[[str], int]) -> Iterator[str]:
    for word in text.split():
        if measure(word) <= width:
            yield word
        else:
            yield from split_word(word, width, measure)


def _ellipsize(line: str, width: int, measure: Callable[[str], int], cut_words: bool) -> str | None:
    """`line` + an ellipsis within `width`: whole words dropped from the end, and a trailing comma or colon, so the
    line does not end in ",…". None when not even its first word fits with the ellipsis, unless `cut_words`: then
    characters go too."""
    words = line.split(" ")
    while words:
        text = " ".join(words).rstrip(TRAILING)
        if measure(text + ELLIPSIS) <= width:
            return text + ELLIPSIS
        words.pop()
    if not cut_words:
        return None
    text = line.split(" ")[0]
    text = text[:fit_prefix(text + ELLIPSIS, width, measure)]
    while len(text) > 1 and measure(text.rstrip(TRAILING) + ELLIPSIS) > width:
        text = text[:-1]
    return text.rstrip(TRAILING) + ELLIPSIS


def wrap(text: str, width: int, measure: Callable[[str], int], max_lines: int) -> list[str]:
    """Greedy word wrap into at most `max_lines` lines no wider than `width` (pixels, by `measure`).

    Words are never split, except a single word wider than a line. Text left over after `max_lines` ends the last
    line with an ellipsis, for which whole words are dropped (or the whole last line, ending the one before it).
    Words are taken as the lines need them, so the work grows with the text shown, linearly.
    """
    tokens = _tokens(text, width, measure)
    pending = next(tokens, None)
    lines: list[str] = []
    while pending is not None and len(lines) < max_lines:
        line, pending = pending, next(tokens, None)
        while pending is not None and measure(f"{line} {pending}") <= width:
            line += " " + pending
            pending = next(tokens, None)
        lines.append(line)
    while pending is not None and lines:
        last = _ellipsize(lines[-1], width, measure, cut_words=len(lines) == 1)
        if last is not None:
            lines[-1] = last
            break
        lines.pop()
    return lines


def balanced_wrap(text: str, width: int, measure: Callable[[str], int], max_lines: int) -> list[str]:
    """`wrap` into as many lines as it needs, but with lines of similar length (no lone word on a title's second
    line): the narrowest width that needs no more lines, found by bisection. Text that overflows is left as `wrap`
    makes it."""
    lines = wrap(text, width, measure, max_lines)
    if len(lines) < 2 or lines[-1].endswith(ELLIPSIS):
        return lines
    lo, hi = max(measure(w) for w in text.split()), width
    while lo < hi:
        mid = (lo + hi) // 2
        trial = wrap(text, mid, measure, max_lines)
        if len(trial) == len(lines) and not trial[-1].endswith(ELLIPSIS):
            hi = mid
        else:
            lo = mid + 1
    return wrap(text, hi, measure, max_lines)


# -- text sizes and contrast ----------------------------------------------------------------------------------------

TITLE_EM = 0.044  # of the screen's short side; why: 48 px on 1080p, 30 mm caps on a 55" screen, read from 3-4 m
BODY_EM = 0.028  # why: 30 px on 1080p, 14 mm capitals on a 55" screen: comfortable at 2 m, still small beside the art
MIN_PX = 12  # why: below this even a good face falls apart on a TV's scaler
TITLE_LEADING = 1.15  # line height / size; why: short display lines need little air
BODY_LEADING = 1.35  # why: the usual 1.3-1.5 for running text; the eye finds the next line from across the room
MEASURE_EM = 32  # widest line in body sizes; why: ~60 characters, inside the 45-75 that read without losing the line
MIN_BESIDE_EM = 22  # narrower than this beside the QR code (portrait screens): the text goes above the code instead
TITLE_LINES, BODY_LINES = 2, 4  # why: the panel stays a caption; the full reflection is on the QR code's page


@dataclass(frozen=True)
class TextLayout:
    """Pixel sizes of the title/reflection panel for one screen; sizes follow the short side (portrait included)."""

    title_px: int
    body_px: int
    title_advance: int  # baseline to baseline
    body_advance: int
    gap: int  # between the title and the reflection
    pad_x: int
    pad_y: int
    radius: int
    measure: int  # widest text line
    min_beside: int  # narrowest text column accepted beside the QR code


def text_layout(screen_px: tuple[int, int]) -> TextLayout:
    short = min(screen_px)
    title, body = max(MIN_PX, round(TITLE_EM * short)), max(MIN_PX, round(BODY_EM * short))
    return TextLayout(title_px=title, body_px=body, title_advance=round(TITLE_LEADING * title),
                      body_advance=round(BODY_LEADING * body), gap=round(0.45 * body), pad_x=round(0.8 * body),
                      pad_y=round(0.55 * body), radius=round(0.35 * body), measure=MEASURE_EM * body,
                      min_beside=MIN_BESIDE_EM * body)


def text_width(layout: TextLayout, screen_w: int, margin: int, qr_w: int | None) -> tuple[int, bool]:
    """Width of the text panel, and whether it sits beside the QR code (`qr_w`: the code's width on the same bottom
    edge, None without one there). Beside it when the column left there is at least `min_beside`."""
    full = screen_w - 2 * margin
    beside = full - qr_w - margin if qr_w is not None else -1
    room, is_beside = (beside, True) if beside >= layout.min_beside else (full, False)
    return max(1, min(room, layout.measure + 2 * layout.pad_x)), is_beside and qr_w is not None


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0-255 channels)."""
    def lin(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio, 1 (none) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
