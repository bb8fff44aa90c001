"""What routes receive through `Depends`: the settings, the studio's catalog, the control-token check."""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from curation.catalog import PUBLIC_STATUSES, Catalog, CatalogError, Piece
from curation.catalog.pool import CatalogPool
from curation.studio import Studio, open_studio
from installation.web.settings import TOKEN_ENV, WebSettings

log = logging.getLogger(__name__)

# Slugs are made by `Catalog.add_piece`: lower-case words and a hex digest joined by '-'. Anything else is no piece.
SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?")
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class CatalogSource:
    """The studio's catalog for the web app: checked (and migrated) once when the app starts, then opened per use.

    FastAPI runs `def` routes on a pool of threads, so each request gets its own connection (`CatalogPool`: a new
    SQLite one, about half a millisecond, or a pooled PostgreSQL one that reconnects on its own after an outage).
    Public pages read through read-only connections; only the control endpoints write.
    """

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self._pieces_dir = studio.pieces_dir.resolve()
        self._pool = CatalogPool(studio.catalog_location, studio.root)

    @classmethod
    def open(cls, root: Path, catalog: str | None = None) -> CatalogSource:
        studio = open_studio(root, catalog)
        with studio.catalog():  # read-write once: brings an older schema up to date before readers open it
            pass
        return cls(studio)

    def close(self) -> None:
        self._pool.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Catalog]:
        with self._pool.open(readonly=True) as cat:
            yield cat

    @contextlib.contextmanager
    def write(self) -> Iterator[Catalog]:
        # a read-write open of a gone SQLite file would quietly make a new, empty catalog
        if self.studio.catalog_url is None and not self.studio.catalog_path.is_file():
            raise CatalogError(f"the catalog {self.studio.catalog_path} has gone")
        with self._pool.open(readonly=False) as cat:
            yield cat

    def piece_file(self, cat: Catalog, piece: Piece, name: str | None = None) -> Path | None:
        """A file of a piece's folder (its image when `name` is None), or None if it is absent or would lie outside
        the studio's `pieces/` folder. Names come from our code, never from a request."""
        relative = piece.file if name is None else f"{piece.folder}/{name}"
        try:
            path = cat.abspath(relative)
        except CatalogError:
            log.warning("piece %s names a file outside the studio: %r", piece.slug, relative)
            return None
        if not path.is_relative_to(self._pieces_dir) or not path.is_file():
            return None
        return path


async def get_settings(request: Request) -> WebSettings:
    return request.app.state.settings


async def get_catalogs(request: Request) -> CatalogSource:
    return request.state.catalogs


SettingsDep = Annotated[WebSettings, Depends(get_settings)]
CatalogsDep = Annotated[CatalogSource, Depends(get_catalogs)]


def valid_slug(slug: str) -> bool:
    return SLUG_RE.fullmatch(slug) is not None


def public_piece(cat: Catalog, slug: str) -> Piece:
    """The published piece called `slug`, else 404 (unknown, malformed, or not accepted/featured)."""
    piece = cat.get_piece_by_slug(slug) if valid_slug(slug) else None
    if piece is None or piece.status not in PUBLIC_STATUSES:
        raise HTTPException(404, "There is no published piece at this address.")
    return piece


async def require_token(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Let a request through only with `Authorization: Bearer <token>` matching the configured token."""
    if settings.token is None:
        raise HTTPException(403, f"control endpoints are disabled: no token is configured; start `dstrtd web` "
                                 f"with --token or set ${TOKEN_ENV} to enable them")
    scheme, _, given = (authorization or "").partition(" ")
    # why: compare bytes, since compare_digest refuses non-ASCII str and a 500 would tell more than a 401
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), settings.token.encode()):
        raise HTTPException(401, "this needs the control token: send the header `Authorization: Bearer <token>`",
                            headers={"WWW-Authenticate": "Bearer"})
