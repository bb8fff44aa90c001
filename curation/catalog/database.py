"""The SQLite plumbing of a catalog: one connection, WAL, write transactions, schema migrations, the revision.

Every write is one transaction opened with BEGIN IMMEDIATE, which takes the write lock up front, so two processes
never claim the same job. The revision is a counter the gallery polls: it moves only with a write the gallery shows
(`transaction(visible=True)`), so a worker claiming, progressing and finishing jobs never makes every gallery reload
every piece.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from curation.catalog.records import CatalogError
from curation.catalog.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)


class Database:
    """One connection to a catalog file; per instance, never shared between threads or processes."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise CatalogError(f"no catalog at {self.path}; make a studio first with `dstrtd init DIR`")
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not readonly:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # why: WAL + NORMAL is durable across app crashes
            self._migrate()
        else:
            version = self.schema_version()
            if version != SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.path} has schema version {version}, this DSTRTD reads {SCHEMA_VERSION}; "
                    "open it once read-write (e.g. `dstrtd catalog list`) to migrate it")

    def close(self) -> None:
        self._db.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement outside a transaction: reads, and the rare autocommit write (job progress)."""
        return self._db.execute(sql, tuple(params))

    def require_writable(self) -> None:
        if self.readonly:
            raise CatalogError("this catalog was opened read-only")

    @contextlib.contextmanager
    def transaction(self, *, visible: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE). `visible`: the write changes what the gallery shows (pieces,
        their files, status, title or reflection; themes; scores; clusters), so `revision()` moves with it. Job,
        export, engagement and display-command writes pass False."""
        self.require_writable()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            if visible:
                self._db.execute("UPDATE revision SET value = value + 1 WHERE id = 1")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def busy_wait(self, ms: int) -> Iterator[None]:
        """Wait at most `ms` (never longer than the connection's own timeout) for a busy catalog in the block."""
        busy = int(self._db.execute("PRAGMA busy_timeout").fetchone()[0])
        self._db.execute(f"PRAGMA busy_timeout = {min(busy, int(ms))}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {busy}")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def revision(self) -> int:
        """A number that grows with every committed write the gallery shows: poll it to notice changes cheaply."""
        return int(self._db.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise CatalogError(
                f"catalog {self.path} has schema version {current}, newer than this DSTRTD ({SCHEMA_VERSION}); "
                "upgrade DSTRTD")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self.schema_version() >= version:  # another process migrated meanwhile
                    self._db.execute("ROLLBACK")
                    continue
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            log.debug("catalog %s migrated to schema %d", self.path, version)
