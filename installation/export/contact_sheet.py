"""A contact sheet: many pieces on one image, each with its title, status and scores, for reviewing a batch."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from curation.catalog import Catalog, CatalogError, Piece, now_iso
from curation.public import piece_title
from generator.common.errors import UnreadableImage
from generator.common.images import open_rgb
from installation.export.config import ContactSheetConfig
from installation.export.errors import ExportError
from installation.export.files import write_png
from installation.export.fonts import ellipsize, get_font

log = logging.getLogger(__name__)

STATUS_COLOURS = {"generated": (150, 150, 150), "accepted": (70, 160, 90), "rejected": (200, 70, 60),
                  "featured": (200, 140, 20)}
MAX_PIECES = 1000  # why: beyond this the sheet passes 100 megapixels; review in several sheets
MAX_SHEET_PIXELS = 120_000_000  # why: 1000 default thumbnails (240 px) are about 90 Mpx; 120 Mpx is 360 MB as RGB


def _score_text(piece: Piece, max_scores: int = 3) -> str:
    items = sorted(piece.scores.items())[:max_scores]
    return "  ".join(f"{name} {value:.2f}" for name, value in items) or "no scores"


def render_contact_sheet(catalog: Catalog, pieces: Sequence[Piece],
                         config: ContactSheetConfig = ContactSheetConfig()) -> Image.Image:
    """The sheet as one RGB image: a header, then a grid of `config.thumb`-px thumbnails with three lines under each."""
    if not pieces:
        raise ExportError("no pieces to put on a contact sheet (check --status)")
    if len(pieces) > MAX_PIECES:
        raise ExportError(f"{len(pieces)} pieces is too many for one sheet (at most {MAX_PIECES}); use --limit")
    columns, thumb = max(1, min(config.columns, len(pieces))), config.thumb
    gap, pad = max(8, thumb // 16), max(16, thumb // 8)
    line = max(12, thumb // 15)
    fonts = (get_font(line + 2, bold=True), get_font(line - 1), get_font(line - 1))
    text_h = round(line * 1.35) * 3 + gap // 2
    cell_w, cell_h = thumb, thumb + text_h
    rows = -(-len(pieces) // columns)
    header = round(line * 3.2)
    width = 2 * pad + columns * cell_w + (columns - 1) * gap
    height = 2 * pad + header + rows * cell_h + (rows - 1) * gap
    if width * height > MAX_SHEET_PIXELS:  # refused before the sheet is allocated
        raise ExportError(f"{len(pieces)} pieces at {thumb} px in {columns} columns make a {width}x{height} px sheet "
                          f"({width * height / 1e6:,.0f} Mpx), over the limit of {MAX_SHEET_PIXELS / 1e6:,.0f} Mpx; "
                          "use --limit, a smaller --thumb or other --columns")
    sheet = Image.new("RGB", (width, height), (246, 246, 244))
    draw = ImageDraw.Draw(sheet)
    themes = {t.name: t for t in catalog.list_themes()}
    heading = config.title or f"DSTRTD · {len(pieces)} pieces · {now_iso()}"
    draw.text((pad, pad), ellipsize(draw, heading, get_font(round(line * 1.6), bold=True), width - 2 * pad),
              font=get_font(round(line * 1.6), bold=True), fill=(20, 20, 20))

    for i, piece in enumerate(pieces):
        r, c = divmod(i, columns)
        x = pad + c * (cell_w + gap)
        y = pad + header + r * (cell_h + gap)
        draw.rectangle((x, y, x + thumb - 1, y + thumb - 1), fill=(228, 228, 226))
        try:
            image = open_rgb(catalog.abspath(piece.file), draft_size=(thumb, thumb)).image
            small = ImageOps.contain(image, (thumb, thumb), Image.Resampling.LANCZOS)
            sheet.paste(small, (x + (thumb - small.width) // 2, y + (thumb - small.height) // 2))
        except (UnreadableImage, CatalogError) as exc:
            log.warning("contact sheet: piece %s has no readable image (%s)", piece.slug, exc)
            draw.text((x + 8, y + 8), "image missing", font=fonts[1], fill=(200, 70, 60))
        colour = STATUS_COLOURS.get(piece.status, (150, 150, 150))
        draw.rectangle((x, y + thumb - max(4, thumb // 40), x + thumb - 1, y + thumb - 1), fill=colour)
        ty = y + thumb + gap // 2
        step = round(line * 1.35)
        name = piece_title(piece, themes.get(piece.theme or ""))
        draw.text((x, ty), ellipsize(draw, name, fonts[0], thumb), font=fonts[0], fill=(20, 20, 20))
        draw.text((x, ty + step), ellipsize(draw, f"{piece.status} · {piece.slug}", fonts[1], thumb), font=fonts[1],
                  fill=colour if piece.status != "generated" else (110, 110, 110))
        draw.text((x, ty + 2 * step), ellipsize(draw, _score_text(piece), fonts[2], thumb), font=fonts[2],
                  fill=(70, 70, 70))
    return sheet


def export_contact_sheet(catalog: Catalog, pieces: Sequence[Piece], out: str | os.PathLike[str],
                         config: ContactSheetConfig = ContactSheetConfig()) -> Path:
    """Render the sheet and write it atomically as PNG to `out`."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ExportError(f"the contact sheet is a PNG: name it *.png, not {out.name}")
    sheet = render_contact_sheet(catalog, pieces, config)
    return write_png(out, sheet, level=6, text={"Title": config.title or "DSTRTD contact sheet"})
