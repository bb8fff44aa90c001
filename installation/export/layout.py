"""Where everything goes on a poster: pure arithmetic in page pixels, unit-tested without drawing anything.

`poster_geometry` works in named steps: the sheet (paper turned to the artwork, trim, bleed, room for crop marks),
the code's module size, then the artwork and the code placed by the layout (`fit`: the whole artwork on a margin,
the code under its right edge; `fill`: the artwork covers the bleed, the code on its own tile in the corner), the
code kept on the trimmed sheet, and the crop marks. Positions and sizes sit on the 8-pixel JPEG grid where they can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import ImageColor

from installation.export.config import PosterConfig
from installation.export.errors import ExportError
from installation.export.paper import PaperSize, mm_to_px, parse_size, px_to_mm
from installation.qr import QUIET_ZONE, qr_matrix

Box = tuple[int, int, int, int]  # x, y, width, height in page pixels (origin top left)
JPEG_BLOCK = 8  # px; why: QR modules and positions on this grid fill whole JPEG blocks, so the PDF's code is crisp
TITLE_MM = 4.5  # height of the title's letters; why: readable at arm's length, small beside the artwork
LINE_SPACING = 1.25


@dataclass(frozen=True)
class PosterGeometry:
    """Where everything sits on the page, in pixels at `dpi` (origin top left)."""

    paper: PaperSize  # oriented
    dpi: int
    page: tuple[int, int]  # the whole sheet written: trim + bleed + room for crop marks
    trim: Box
    bleed: Box  # equals `trim` without bleed
    art: Box
    art_crop: tuple[int, int, int, int]  # (left, top, right, bottom) of the source used (fill crops it)
    qr: Box  # the code's image, quiet zone included
    qr_module: int  # px per module
    qr_modules: int  # modules across, quiet zone included
    title: Box | None
    light_background: bool
    marks: tuple[Box, ...] = ()  # crop-mark rectangles

    @property
    def effective_dpi(self) -> float:
        """Source pixels per printed inch of the artwork (the lower of the two axes)."""
        left, top, right, bottom = self.art_crop
        return min((right - left) / (self.art[2] / self.dpi), (bottom - top) / (self.art[3] / self.dpi))

    def mm(self, box: Box) -> dict[str, float]:
        x, y, w, h = box
        return {k: round(px_to_mm(v, self.dpi), 2) for k, v in (("x", x), ("y", y), ("width", w), ("height", h))}

    def pdf_box(self, box: Box) -> list[float]:
        """`box` as a PDF rectangle in points, origin bottom left."""
        x, y, w, h = box
        k = 72.0 / self.dpi
        return [round(x * k, 3), round((self.page[1] - y - h) * k, 3), round((x + w) * k, 3),
                round((self.page[1] - y) * k, 3)]


def _floor(value: float, step: int = JPEG_BLOCK) -> int:
    return int(value) // step * step


def _is_light(color: str) -> bool:
    r, g, b = ImageColor.getrgb(color)[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b >= 128


def qr_module_px(url: str, config: PosterConfig, short_side_mm: float) -> tuple[int, int]:
    """(px per module, modules across with the quiet zone) for the code of `url` at `config`."""
    modules = len(qr_matrix(url, config.qr_error))
    symbol = modules - 2 * QUIET_ZONE
    qr_mm = config.qr_mm if config.qr_mm is not None else max(25.0, 0.12 * short_side_mm)
    module = math.ceil(mm_to_px(qr_mm, config.dpi) / symbol)
    aligned = math.ceil(module / JPEG_BLOCK) * JPEG_BLOCK
    if module >= 6 and aligned <= module * 1.34:  # grow to the JPEG grid unless that makes the code much larger
        module = aligned
    return module, modules


@dataclass(frozen=True)
class _Sheet:
    """The page of one poster in pixels: the trimmed sheet, the bleed around it and room for crop marks."""

    paper: PaperSize  # oriented
    dpi: int
    page: tuple[int, int]
    trim: Box
    bleed: Box
    margin: int
    mark_offset: int  # from the trim to where a crop mark starts
    mark_length: int

    @property
    def short_mm(self) -> float:
        return min(self.paper.width_mm, self.paper.height_mm)


@dataclass(frozen=True)
class _Placed:
    """Where the layout put the artwork, the code (its top-left corner) and the title."""

    art: Box
    crop: tuple[int, int, int, int]  # (left, top, right, bottom) of the source used
    qr_xy: tuple[int, int]
    title: Box | None


def _sheet(config: PosterConfig, art_size: tuple[int, int]) -> _Sheet:
    sw, sh = art_size
    orientation = config.orientation
    if orientation == "auto":
        orientation = "landscape" if sw > sh else "portrait"
    paper = parse_size(config.size).oriented(orientation)
    dpi = config.dpi
    trim_w, trim_h = mm_to_px(paper.width_mm, dpi), mm_to_px(paper.height_mm, dpi)
    bleed = mm_to_px(config.bleed_mm, dpi) if config.bleed else 0
    mark_offset = max(bleed, mm_to_px(3.0, dpi))  # why: marks start outside the bleed, or they would print on it
    mark_length = mm_to_px(6.0, dpi)
    outer = mark_offset + mark_length + mm_to_px(2.0, dpi) if config.crop_marks else bleed
    short_mm = min(paper.width_mm, paper.height_mm)
    margin = mm_to_px(config.margin_mm if config.margin_mm is not None else max(10.0, 0.06 * short_mm), dpi)
    return _Sheet(paper=paper, dpi=dpi, page=(trim_w + 2 * outer, trim_h + 2 * outer),
                  trim=(outer, outer, trim_w, trim_h),
                  bleed=(outer - bleed, outer - bleed, trim_w + 2 * bleed, trim_h + 2 * bleed), margin=margin,
                  mark_offset=mark_offset, mark_length=mark_length)


def page_pixels(config: PosterConfig) -> int:
    """How many pixels one page of `config` holds (trim, bleed and the room for crop marks; either orientation)."""
    w, h = _sheet(config, (1, 1)).page
    return w * h


def check_page_pixels(config: PosterConfig) -> None:
    """`ExportError` naming the largest dpi that fits when a page of `config` would need more than `max_pixels`:
    refused before anything is allocated (a 5 m poster at 1200 dpi would be 56 gigapixels)."""
    pixels = page_pixels(config)
    if pixels <= config.max_pixels:
        return
    fits = int(config.dpi * math.sqrt(config.max_pixels / pixels))
    raise ExportError(f"{config.size} at {config.dpi} dpi makes a page of {pixels / 1e6:,.0f} Mpx, over the limit of "
                      f"{config.max_pixels / 1e6:,.0f} Mpx (--max-pixels); use --dpi {fits} or less, or a smaller "
                      "--size")


def _title_height(sheet: _Sheet, lines: int) -> int:
    return round(mm_to_px(TITLE_MM, sheet.dpi) * LINE_SPACING * lines)


def _fit(sheet: _Sheet, art_size: tuple[int, int], module: int, modules: int, title_lines: int,
         light: bool) -> _Placed:
    """The whole artwork on a margin, the code's dark modules under its right edge (on a dark sheet its white tile,
    quiet zone and all, lines up instead), the title beside the code."""
    sw, sh = art_size
    tile, quiet = module * modules, QUIET_ZONE * module
    inset = quiet if light else 0
    visible = tile - 2 * inset
    gap = max(mm_to_px(6.0, sheet.dpi), sheet.margin // 2)
    tx, ty, tw, th = sheet.trim
    cx, cy, cw, ch = tx + sheet.margin, ty + sheet.margin, tw - 2 * sheet.margin, th - 2 * sheet.margin
    avail_h = ch - gap - visible
    if cw < 2 * JPEG_BLOCK or avail_h < 2 * JPEG_BLOCK:
        raise ExportError(f"{sheet.paper.name} at margin {px_to_mm(sheet.margin, sheet.dpi):.0f} mm leaves no room "
                          "for the artwork beside the QR code; use a larger size or a smaller margin")
    scale = min(cw / sw, avail_h / sh)
    aw = max(JPEG_BLOCK, _floor(sw * scale))
    ah = max(1, round(aw * sh / sw))
    ax = _floor(cx + _floor((cw - aw) / 2))  # with aw on the grid, the artwork's right edge is on it too, and the code
    ay = cy + max(0, (ch - (ah + gap + visible)) // 2)
    qx, qy = ax + aw - visible - inset, _floor(ay + ah + gap - inset)
    title = None
    if title_lines:
        height = _title_height(sheet, title_lines)
        title = (ax, qy + inset + visible - height, max(0, aw - visible - gap), height)
    return _Placed(art=(ax, ay, aw, ah), crop=(0, 0, sw, sh), qr_xy=(qx, qy), title=title)


def _fill(sheet: _Sheet, art_size: tuple[int, int], module: int, modules: int, title_lines: int) -> _Placed:
    """The artwork covers the bleed box, cropped to its shape around the centre; the code sits on its own tile in
    the bottom-right corner, the title on a label beside it."""
    sw, sh = art_size
    tile, quiet = module * modules, QUIET_ZONE * module
    _, _, bw, bh = sheet.bleed
    scale = max(bw / sw, bh / sh)
    cw_src, ch_src = min(sw, round(bw / scale)), min(sh, round(bh / scale))
    left, top = (sw - cw_src) // 2, (sh - ch_src) // 2
    tx, ty, tw, th = sheet.trim
    qx, qy = _floor(tx + tw - sheet.margin - tile), _floor(ty + th - sheet.margin - tile)
    title = None
    if title_lines:
        height = _title_height(sheet, title_lines) + 2 * quiet
        x = tx + sheet.margin
        title = (x, qy + tile - height, max(0, qx - x - sheet.margin), height)
    return _Placed(art=sheet.bleed, crop=(left, top, left + cw_src, top + ch_src), qr_xy=(qx, qy), title=title)


def _on_sheet(sheet: _Sheet, xy: tuple[int, int], tile: int) -> tuple[int, int]:
    """The code moved onto the trimmed sheet, quiet zone included, even with a small margin."""
    tx, ty, tw, th = sheet.trim
    qx, qy = min(xy[0], _floor(tx + tw - tile)), min(xy[1], _floor(ty + th - tile))
    if qx < tx or qy < ty:
        raise ExportError(f"a {px_to_mm(tile, sheet.dpi):.0f} mm QR code does not fit on {sheet.paper.name}; use a "
                          "larger size")
    return qx, qy


def _crop_marks(sheet: _Sheet) -> tuple[Box, ...]:
    """A horizontal and a vertical hairline at each corner of the trim, outside the bleed."""
    width = max(1, mm_to_px(0.1, sheet.dpi))  # why: 0.25 pt hairlines, the usual weight for crop marks
    tx, ty, tw, th = sheet.trim
    offset, length = sheet.mark_offset, sheet.mark_length
    rects = []
    for x_edge in (tx, tx + tw):
        for y_edge in (ty, ty + th):
            hx = x_edge - offset - length if x_edge == tx else x_edge + offset
            rects.append((hx, y_edge - width // 2, length, width))
            vy = y_edge - offset - length if y_edge == ty else y_edge + offset
            rects.append((x_edge - width // 2, vy, width, length))
    return tuple(rects)


def poster_geometry(config: PosterConfig, art_size: tuple[int, int], url: str,
                    title_lines: int = 0) -> PosterGeometry:
    """Lay out one poster for an artwork of `art_size` (W, H) source pixels and a code for `url`."""
    sw, sh = art_size
    if sw <= 0 or sh <= 0:
        raise ExportError(f"artwork has no pixels ({sw}x{sh})")
    check_page_pixels(config)
    sheet = _sheet(config, art_size)
    light = _is_light(config.background)
    module, modules = qr_module_px(url, config, sheet.short_mm)
    if config.layout == "fit":
        placed = _fit(sheet, art_size, module, modules, title_lines, light)
    else:
        placed = _fill(sheet, art_size, module, modules, title_lines)
    tile = module * modules
    qx, qy = _on_sheet(sheet, placed.qr_xy, tile)
    return PosterGeometry(paper=sheet.paper, dpi=sheet.dpi, page=sheet.page, trim=sheet.trim, bleed=sheet.bleed,
                          art=placed.art, art_crop=placed.crop, qr=(qx, qy, tile, tile), qr_module=module,
                          qr_modules=modules, title=placed.title, light_background=light,
                          marks=_crop_marks(sheet) if config.crop_marks else ())
