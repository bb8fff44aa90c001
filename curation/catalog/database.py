"""The catalog's connection: write transactions, schema migrations, the revision, and the one place where the two
backends differ (SQLite here, embedded and the default; PostgreSQL in postgres.py, beyond one machine).

Every write is one transaction. SQLite opens it with BEGIN IMMEDIATE, which takes the write lock up front, so two
processes never claim the same job; PostgreSQL claims with `FOR UPDATE SKIP LOCKED`. Transactions nest: an inner
`transaction()` joins the outer one, so a piece and its job commit together or not at all. The revision is a counter
the gallery polls: it moves only with a write the gallery shows (`transaction(visible=True)`), so a worker claiming,
progressing and finishing jobs never makes every gallery reload every piece.

The parts (jobs.py, pieces.py, ...) write one SQL for both backends: `?` placeholders, `RETURNING id`, and the few
dialect words this class names (`NOW`, `FOR_UPDATE`, `SKIP_LOCKED`). Driver errors that mean "busy or unreachable, try
again" leave as `CatalogUnavailable`, constraint violations as `CatalogConflict`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from curation.catalog.records import CatalogConflict, CatalogError, CatalogUnavailable
from curation.catalog.schema import SCHEMA_VERSION, migration

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the parts write through inside a transaction (a sqlite3.Connection, or the PostgreSQL wrapper)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...


def is_url(location: str | os.PathLike[str]) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """`url` without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


class Database:
    """One connection to a catalog, per instance: never shared between threads or processes."""

    kind = "sqlite"
    NOW = "((julianday('now') - 2440587.5) * 86400.0)"  # the database's clock, epoch seconds (leases, heartbeats)
    FOR_UPDATE = ""  # BEGIN IMMEDIATE already holds the write lock
    SKIP_LOCKED = ""

    location: str  # a path or a URL (its password never appears in messages)
    readonly: bool

    def __init__(self) -> None:
        self._depth = 0
        self._visible = False
        self._undo: list[Callable[[], None]] = []

    # -- what a backend provides --------------------------------------------------------------------------------

    def _raw(self) -> Connection:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def _translate(self, exc: BaseException) -> BaseException | None:
        """The catalog's error for a driver error (None: let it pass as it is)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def schema_version(self) -> int:
        raise NotImplementedError

    def integrity_problems(self) -> list[str]:
        return []

    @contextlib.contextmanager
    def busy_wait(self, ms: int) -> Iterator[None]:
        """Wait at most `ms` for a busy catalog in the block (never longer than the connection's own timeout)."""
        yield

    # -- shared -------------------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """One statement; outside a transaction: reads, and the rare autocommit write (job progress)."""
        with self._translated():
            return self._raw().execute(sql, tuple(params))

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            mine = self._translate(exc)
            if mine is None:
                raise
            raise mine from exc

    def require_writable(self) -> None:
        if self.readonly:
            raise CatalogError("this catalog was opened read-only")

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Call `undo` if the current transaction rolls back (e.g. move a renamed folder back)."""
        if not self._depth:
            raise RuntimeError("on_rollback outside a transaction")
        self._undo.append(undo)

    @contextlib.contextmanager
    def transaction(self, *, visible: bool = True) -> Iterator[Connection]:
        """One write transaction; inside another, it joins that one (both commit or neither). `visible`: the write
        changes what the gallery shows (pieces, their files, status, title or reflection; themes; scores; clusters),
        so `revision()` moves with it, once per outermost transaction. Job, export, engagement and display-command
        writes pass False."""
        self.require_writable()
        if self._depth:
            self._depth += 1
            self._visible = self._visible or visible
            try:
                yield self._raw()
            finally:
                self._depth -= 1
            return
        with self._translated():
            self._begin()
        self._depth, self._visible, self._undo = 1, visible, []
        try:
            yield self._raw()
            with self._translated():
                if self._visible:
                    self._raw().execute("UPDATE revision SET value = value + 1 WHERE id = 1", ())
                self._commit()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self._rollback()
            for undo in reversed(self._undo):
                try:
                    undo()
                except Exception:
                    log.exception("could not undo a file change after a rollback")
            mine = self._translate(exc) if isinstance(exc, Exception) else None
            if mine is not None:
                raise mine from exc
            raise
        finally:
            self._depth, self._undo = 0, []

    def revision(self) -> int:
        """A number that grows with every committed write the gallery shows: poll it to notice changes cheaply."""
        return int(self.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0])

    def _check_version(self, current: int) -> None:
        if current > SCHEMA_VERSION:
            raise CatalogError(
                f"catalog {self.location} has schema version {current}, newer than this DSTRTD ({SCHEMA_VERSION}); "
                "upgrade DSTRTD")
        if self.readonly and current != SCHEMA_VERSION:
            raise CatalogError(
                f"catalog {self.location} has schema version {current}, this DSTRTD reads {SCHEMA_VERSION}; "
                "open it once read-write (e.g. `dstrtd catalog list`) to migrate it")


class SqliteDatabase(Database):
    """A catalog file (WAL): the embedded default, one machine."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False, timeout: float = 30.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.location = str(self.path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise CatalogError(f"no catalog at {self.path}; make a studio first with `dstrtd init DIR`")
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._translated():
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")  # why: WAL + NORMAL is durable across app crashes
                self._migrate()
            else:
                self._check_version(self.schema_version())

    def _raw(self) -> sqlite3.Connection:
        return self._db

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def _translate(self, exc: BaseException) -> BaseException | None:
        if isinstance(exc, sqlite3.OperationalError) and any(
                word in str(exc) for word in ("locked", "busy", "unable to open", "disk I/O")):
            return CatalogUnavailable(f"the catalog {self.path} is busy or unreachable ({exc}); try again in a moment")
        if isinstance(exc, sqlite3.IntegrityError):
            return CatalogConflict(f"the catalog refused the write: {exc}")
        return None

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def busy_wait(self, ms: int) -> Iterator[None]:
        busy = int(self._db.execute("PRAGMA busy_timeout").fetchone()[0])
        self._db.execute(f"PRAGMA busy_timeout = {min(busy, int(ms))}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {busy}")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_problems(self) -> list[str]:
        ok = self.execute("PRAGMA integrity_check").fetchone()[0]
        return [] if ok == "ok" else [f"sqlite integrity: {ok}"]

    def _migrate(self) -> None:
        current = self.schema_version()
        self._check_version(current)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self.schema_version() >= version:  # another process migrated meanwhile
                    self._db.execute("ROLLBACK")
                    continue
                for statement in migration(version, "sqlite"):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            log.debug("catalog %s migrated to schema %d", self.path, version)


def open_database(location: str | os.PathLike[str], *, readonly: bool = False, timeout: float = 30.0) -> Database:
    """The catalog at `location`: a `postgresql://` URL, else the path of a SQLite file."""
    if is_url(location):
        from curation.catalog.postgres import PostgresDatabase

        return PostgresDatabase(str(location), readonly=readonly, timeout=timeout)
    return SqliteDatabase(location, readonly=readonly, timeout=timeout)
