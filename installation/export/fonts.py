"""Fonts for text drawn on exports: DejaVu Sans where the system has it, else Pillow's built-in scalable font."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageDraw, ImageFont

_CANDIDATES = {
    False: ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"),
    True: ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf"),
}
_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"),
            Path("/usr/share/fonts/TTF"), Path("/usr/share/fonts/dejavu"), Path("/Library/Fonts"),
            Path("C:/Windows/Fonts"))

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=64)
def get_font(size_px: int, bold: bool = False) -> Font:
    """A font `size_px` pixels tall (em size)."""
    size_px = max(6, int(size_px))
    for folder in _FOLDERS:
        for name in _CANDIDATES[bold]:
            path = folder / name
            if path.is_file():
                try:
                    return ImageFont.truetype(str(path), size_px)
                except OSError:
                    continue
    return ImageFont.load_default(size=size_px)


def text_width(draw: ImageDraw.ImageDraw, text: str, font: Font) -> float:
    return draw.textlength(text, font=font)


def wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, max_width: float) -> list[str]:
    """Greedy word wrap of `text` (paragraphs kept) into lines at most `max_width` px wide; long words are cut."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words = paragraph.split()
        if not words:
            lines.append("")
            continue
        line = ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if draw.textlength(candidate, font=font) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while draw.textlength(word, font=font) > max_width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and draw.textlength(word[:cut], font=font) > max_width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def ellipsize(draw: ImageDraw.ImageDraw, text: str, font: Font, max_width: float) -> str:
    """`text` cut with an ellipsis to fit `max_width` px."""
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "…", font=font) > max_width:
        text = text[:-1]
    return text.rstrip() + "…"
