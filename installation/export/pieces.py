"""Which pieces an export covers, and where a piece's files are."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from curation.catalog import PIECE_STATUSES, PUBLIC_STATUSES, Catalog, Piece
from generator.common.errors import UnreadableImage
from generator.common.images import open_rgb
from installation.export.errors import ExportError


def select_pieces(catalog: Catalog, slugs: Sequence[str] = (), *, featured: bool = False,
                  status: str | Sequence[str] | None = PUBLIC_STATUSES, limit: int | None = None) -> list[Piece]:
    """Pieces by slug (in the order given; unknown slugs raise, naming them), else the featured ones, else those
    with `status` (the public ones by default), oldest first."""
    if slugs:
        pieces, missing = [], []
        for slug in dict.fromkeys(slugs):
            piece = catalog.get_piece_by_slug(slug)
            if piece is None:
                missing.append(slug)
            else:
                pieces.append(piece)
        if missing:
            raise ExportError(f"no piece with slug {', '.join(missing)} in {catalog.path} "
                              "(see `dstrtd catalog list`)")
        return pieces[:limit] if limit else pieces
    if featured:
        status = "featured"
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        unknown = [s for s in statuses if s not in PIECE_STATUSES]
        if unknown:
            raise ExportError(f"unknown piece status {', '.join(unknown)}; one of {', '.join(PIECE_STATUSES)}")
    return catalog.list_pieces(status, limit=limit)


def relative_to_studio(catalog: Catalog, path: str | os.PathLike[str]) -> str:
    """`path` relative to the studio root when it lies inside it (what the catalog records), else absolute."""
    path = Path(path).resolve()
    root = catalog.root.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def piece_file(catalog: Catalog, piece: Piece, name: str) -> Path:
    """A file of the piece's folder (`loss.png`, `settings.json`, ...); it may not exist."""
    return catalog.abspath(os.path.join(piece.folder, name))


def open_artwork(path: str | os.PathLike[str]) -> Image.Image:
    """A piece's image as upright 8-bit sRGB (`open_rgb`: the pixels the gallery and the curators see), or
    `ExportError` naming the file and what was wrong."""
    try:
        return open_rgb(path).image
    except UnreadableImage as exc:
        hint = "" if os.path.exists(path) else " (run `dstrtd catalog check`)"
        raise ExportError(f"image {path}: {exc}{hint}") from None


def read_settings(catalog: Catalog, piece: Piece) -> dict[str, Any]:
    """The piece's settings: its `settings.json` where readable, else those stored in the catalog."""
    path = piece_file(catalog, piece, "settings.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return {**piece.settings, **data}
    except (OSError, ValueError):
        pass
    return dict(piece.settings)


def read_loss_trace(path: Path) -> list[float]:
    """The total loss per step from a `loss.csv` (column `loss`, else `total`, else the last numeric column)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    if not rows:
        return []
    columns = list(rows[0])
    column = next((c for c in ("loss", "total", "total_loss") if c in columns), None)
    values: list[float] = []
    for row in rows:
        keys = [column] if column else [c for c in reversed(columns) if c not in ("step", "index", "iteration")]
        for key in keys:
            try:
                value = float(row[key])
            except (TypeError, ValueError, KeyError):
                continue
            if math.isfinite(value):
                values.append(value)
            break
    return values
