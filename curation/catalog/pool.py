"""Catalogs for a server's threads (`dstrtd web`): one per request, cheap to get.

A sqlite3 connection belongs to the thread that opened it and opens in about half a millisecond, so SQLite opens one
per use. A PostgreSQL connection costs a network round trip or several to open, so the server's connections come
from a psycopg_pool pool: checked before each use, replaced when the server restarted, so the web reconnects on its
own. Borrowing waits at most `timeout` seconds, then raises CatalogUnavailable (the web answers 503 and tries again
with the next request).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curation.catalog.database import is_url, redact
from curation.catalog.facade import Catalog
from curation.catalog.postgres import INSTALL, PostgresDatabase, connect_options, pg_rows
from curation.catalog.records import CatalogError, CatalogUnavailable

POOL_MAX = 8  # why: FastAPI runs `def` routes on 40 threads, but pages take milliseconds; 8 rarely all busy
# why: the pool retries a lost server with doubling waits (1, 2, 4 s ...); giving up after 10 s makes the next request
# start afresh, so the web is back within a request of the server, not up to a doubled wait later
RECONNECT_S = 10.0


class CatalogPool:
    """`with pool.open() as cat:` a Catalog for one request; `close()` when the server stops."""

    def __init__(self, location: str | os.PathLike[str], root: str | os.PathLike[str], *, timeout: float = 3.0,
                 max_size: int = POOL_MAX) -> None:
        self.location, self.root, self.timeout = location, Path(root), timeout
        self._pool: Any = None
        if is_url(location):
            try:
                from psycopg_pool import ConnectionPool
            except ImportError as exc:
                raise CatalogError(f"a catalog on PostgreSQL needs psycopg-pool here: {INSTALL}") from exc
            self._pool = ConnectionPool(
                str(location), min_size=1, max_size=max_size, open=True, check=ConnectionPool.check_connection,
                name=f"catalog {redact(str(location))}", reconnect_timeout=RECONNECT_S,
                kwargs={"autocommit": True, "row_factory": pg_rows, "options": connect_options(timeout),
                        "connect_timeout": max(2, round(timeout)), "application_name": "dstrtd"})

    @contextlib.contextmanager
    def open(self, *, readonly: bool = True) -> Iterator[Catalog]:
        if self._pool is None:
            with Catalog(self.location, root=self.root, readonly=readonly, timeout=self.timeout) as cat:
                yield cat
            return
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection(timeout=self.timeout) as conn:
                db = PostgresDatabase(str(self.location), readonly=readonly, timeout=self.timeout, connection=conn)
                yield Catalog(self.location, root=self.root, readonly=readonly, database=db)
        except PoolTimeout as exc:
            raise CatalogUnavailable(f"the catalog {redact(str(self.location))} is unreachable (no connection in "
                                     f"{self.timeout:g} s); try again in a moment") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
