"""Fonts for text drawn on exports: the face the gallery would choose (the first installed of its preference list:
Inter, Noto Sans, DejaVu Sans, Liberation Sans, ...), so posters, posts and the screen share one typeface; else
Pillow's built-in scalable font."""

from __future__ import annotations

import functools

from PIL import ImageDraw, ImageFont

from installation.gallery.fonts import FontChoice, choose_font
from installation.gallery.overlay import fit_prefix, split_word

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _loads(path: str) -> bool:
    try:
        ImageFont.truetype(path, 12)
    except OSError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def font_choice() -> FontChoice:
    """The installed face exports draw with (looked up once per process)."""
    return choose_font(None, loads=_loads)


@functools.lru_cache(maxsize=64)
def get_font(size_px: int, bold: bool = False) -> Font:
    """A font `size_px` pixels tall (em size)."""
    size_px = max(6, int(size_px))
    choice = font_choice()
    path = choice.bold if bold else choice.regular
    if path:
        try:
            return ImageFont.truetype(path, size_px)
        except OSError:
            pass
    return ImageFont.load_default(size=size_px)


def text_width(draw: ImageDraw.ImageDraw, text: str, font: Font) -> float:
    return draw.textlength(text, font=font)


def wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, max_width: float) -> list[str]:
    """Greedy word wrap of `text` (paragraphs kept) into lines at most `max_width` px wide; long words are cut (in
    work linear in their length: `split_word`)."""
    def measure(s: str) -> float:
        return draw.textlength(s, font=font)

    lines: list[str] = []
    for paragraph in text.split("\n"):
        words = paragraph.split()
        if not words:
            lines.append("")
            continue
        line = ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if measure(candidate) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            if measure(word) > max_width and len(word) > 1:
                *parts, word = split_word(word, max_width, measure)
                lines += parts
            line = word
        lines.append(line)
    return lines


def ellipsize(draw: ImageDraw.ImageDraw, text: str, font: Font, max_width: float) -> str:
    """`text` cut with an ellipsis to fit `max_width` px (the longest prefix that fits, found by bisection)."""
    if draw.textlength(text, font=font) <= max_width:
        return text
    keep = fit_prefix(text, max_width, lambda s: draw.textlength(s + "…", font=font))
    return text[:keep].rstrip() + "…"
