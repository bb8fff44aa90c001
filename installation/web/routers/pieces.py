"""The published pieces as JSON (read-only, paged, newest first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from curation.catalog import PUBLIC_STATUSES, Catalog, Theme
from curation.public import LOSS_FILE
from installation.web.deps import CatalogsDep, SettingsDep, public_piece
from installation.web.schemas import PieceDetailOut, PiecePageOut, piece_detail_out, piece_out
from installation.web.settings import API_MAX_LIMIT

router = APIRouter(prefix="/api/pieces", tags=["pieces"])

MAX_OFFSET = 10**9  # why: SQLite takes 64-bit offsets, but nothing real is this deep and a bigger one is a mistake


def _themes(cat: Catalog) -> dict[str, Theme]:
    return {t.name: t for t in cat.list_themes()}


@router.get("", response_model=PiecePageOut, summary="Published pieces, newest first")
def list_pieces(settings: SettingsDep, catalogs: CatalogsDep,
                offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                limit: Annotated[int | None, Query(ge=1, le=API_MAX_LIMIT)] = None) -> dict[str, Any]:
    limit = settings.page_size if limit is None else limit
    with catalogs.read() as cat:
        total = cat.count_pieces(PUBLIC_STATUSES)
        found = cat.list_pieces(PUBLIC_STATUSES, limit=limit, offset=offset, newest_first=True)
        themes = _themes(cat)
    items = [piece_out(p, themes.get(p.theme or ""), settings.base_url) for p in found]
    more = offset + len(found) < total and len(found) == limit
    return {"items": items, "offset": offset, "limit": limit, "total": total,
            "next": f"{settings.base_url}/api/pieces?offset={offset + limit}&limit={limit}" if more else None}


@router.get("/{slug}", response_model=PieceDetailOut, summary="One published piece, with how it was made")
def get_piece(slug: str, settings: SettingsDep, catalogs: CatalogsDep) -> dict[str, Any]:
    with catalogs.read() as cat:
        piece = public_piece(cat, slug)
        theme = cat.get_theme(piece.theme) if piece.theme else None
        has_loss = catalogs.piece_file(cat, piece, LOSS_FILE) is not None
    return piece_detail_out(piece, theme, settings.base_url, has_loss)
