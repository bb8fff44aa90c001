"""Files: a published piece's image, loss curve and thumbnail, and the stylesheet. Only files the catalog names
inside the studio's `pieces/` folder are ever served; nothing in a URL becomes part of a path."""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from curation.public import IMAGE_FILE, LOSS_FILE, THUMBNAIL_FILE
from installation.web.deps import IMAGE_TYPES, CatalogsDep, SettingsDep, public_piece
from installation.web.render import stylesheet
from installation.web.routers import get_and_head

log = logging.getLogger(__name__)
router = APIRouter(tags=["media"])
# a piece's files, included under `curation.public.PIECE_ROUTE` by `create_app`, beside its page
piece_router = APIRouter(tags=["media"])

THUMB_SIZE = 480  # why: twice the widest grid cell on a phone, so thumbnails stay sharp on 2x screens
CACHE = "public, max-age=86400"  # why: a slug names one image forever, but a piece may be withdrawn within a day


@get_and_head(piece_router, f"/{{slug}}/{IMAGE_FILE}", summary="A published piece's image", response_class=FileResponse)
def image(slug: str, catalogs: CatalogsDep) -> FileResponse:
    with catalogs.read() as cat:
        piece = public_piece(cat, slug)
        path = catalogs.piece_file(cat, piece)
    if path is None or path.suffix.lower() not in IMAGE_TYPES:
        raise HTTPException(404, "This piece's image is missing.")
    return FileResponse(path, media_type=IMAGE_TYPES[path.suffix.lower()],
                        headers={"Cache-Control": CACHE, "ETag": f'"{piece.sha256}"'})


@get_and_head(piece_router, f"/{{slug}}/{LOSS_FILE}", summary="A published piece's loss curve",
              response_class=FileResponse)
def loss_curve(slug: str, catalogs: CatalogsDep) -> FileResponse:
    with catalogs.read() as cat:
        piece = public_piece(cat, slug)
        path = catalogs.piece_file(cat, piece, LOSS_FILE)
    if path is None:
        raise HTTPException(404, "This piece has no loss curve.")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": CACHE})


@lru_cache(maxsize=512)  # why: about 30 kB each; the whole index of a large show stays in memory
def thumbnail_jpeg(path: Path, sha256: str, max_pixels: int) -> bytes:
    """A piece's thumbnail as JPEG bytes; `UnreadableImage` for a file over `max_pixels` (checked from its header,
    before anything is decoded) or one Pillow cannot read."""
    from PIL import Image  # why: only thumbnails need Pillow; the rest of the web part is standard library

    from generator.common.images import open_rgb

    im = open_rgb(path, draft_size=(THUMB_SIZE, THUMB_SIZE), max_pixels=max_pixels).image
    im.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


@get_and_head(piece_router, f"/{{slug}}/{THUMBNAIL_FILE}",
              summary="A published piece's thumbnail (JPEG, at most 480 pixels a side)")
def thumbnail(slug: str, settings: SettingsDep, catalogs: CatalogsDep) -> Response:
    with catalogs.read() as cat:
        piece = public_piece(cat, slug)
        path = catalogs.piece_file(cat, piece)
    if path is None:
        raise HTTPException(404, "This piece's image is missing.")
    try:
        data = thumbnail_jpeg(path, piece.sha256, settings.max_pixels)
    except Exception as exc:  # why: any file Pillow cannot read (truncated, not an image, a bomb) is a 404, not a 500
        log.warning("cannot make a thumbnail of %s: %s", path, exc)
        raise HTTPException(404, "This piece's image cannot be read.") from exc
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": CACHE, "ETag": f'"t-{piece.sha256}"'})


@get_and_head(router, "/static/style.css", summary="The stylesheet", response_class=Response)
async def style() -> Response:
    data, version = stylesheet()
    return Response(data, media_type="text/css; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{version}"'})
