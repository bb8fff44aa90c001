"""The catalog on PostgreSQL: one server that workers, galleries and web servers on many machines share.

Chosen by a URL (`postgresql://user@host/dstrtd`, libpq's own form, so `?host=/run/postgresql&port=5433`, a
`~/.pgpass` or `PGPASSWORD` work as for psql). psycopg 3 (binary wheel) is the only dependency, imported when a URL
is opened: a studio on SQLite never needs it. The parts' SQL runs unchanged: `?` placeholders become psycopg's, rows
answer `row["name"]` and `row[0]` as sqlite3.Row does, and the schema is the same migrations in PostgreSQL's types
(schema.py), applied under an advisory lock so two machines starting at once migrate once.

A connection lost (the server restarted, the network gone) raises CatalogUnavailable for the call that met it and is
opened again by the next call, so a long-running worker or gallery reconnects on its own. Row locks wait at most the
catalog's `timeout` (lock_timeout), as SQLite's busy timeout does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from curation.catalog.database import Connection, Cursor, Database, redact
from curation.catalog.records import CatalogConflict, CatalogError, CatalogUnavailable
from curation.catalog.schema import SCHEMA_VERSION, migration

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x445354  # "DST": the advisory lock key migrations take, so concurrent starts migrate once
INSTALL = "pip install 'psycopg[binary]' psycopg-pool (or pip install -e '.[postgres]')"


def psycopg_module() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise CatalogError(f"a catalog on PostgreSQL needs psycopg 3, which is not installed here: {INSTALL}") from exc
    return psycopg


class PgRow(dict):
    """A row by column name (`row["id"]`, `dict(row)`) and by position (`row[0]`), like sqlite3.Row."""

    __slots__ = ("_values",)

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        super().__init__(zip(names, values, strict=True))
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        return self._values[key] if isinstance(key, int) else super().__getitem__(key)


def pg_rows(cursor: Any) -> Any:
    """psycopg row factory making PgRow."""
    names = [c.name for c in cursor.description] if cursor.description else []
    return lambda values: PgRow(names, values)


_SQL: dict[str, str] = {}


def to_pg(sql: str) -> str:
    """The parts' SQL with psycopg's placeholders (`?` -> `%s`, a literal `%` doubled)."""
    out = _SQL.get(sql)
    if out is None:
        out = _SQL[sql] = sql.replace("%", "%%").replace("?", "%s")
    return out


class PgConnection:
    """What the parts write through: execute/executemany with `?` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        if not params:  # why: without parameters psycopg sends the text as it is, a `%` included
            return self.conn.execute(sql)
        return self.conn.execute(to_pg(sql), tuple(params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any:
        with self.conn.cursor() as cur:
            cur.executemany(to_pg(sql), [tuple(p) for p in params])


def connect_options(timeout: float, *, readonly: bool = False) -> str:
    """The server settings of a catalog connection: row-lock waits bounded by `timeout`, as SQLite's busy timeout."""
    return f"-c lock_timeout={int(timeout * 1000)}" + (" -c default_transaction_read_only=on" if readonly else "")


def connect(url: str, timeout: float, *, readonly: bool = False) -> Any:
    """A new autocommit connection with PgRow rows; `timeout` bounds the connect and every row-lock wait."""
    psycopg = psycopg_module()
    return psycopg.connect(url, autocommit=True, row_factory=pg_rows, connect_timeout=max(2, round(timeout)),
                           options=connect_options(timeout, readonly=readonly), application_name="dstrtd")


class PostgresDatabase(Database):
    """A catalog on a PostgreSQL server. `connection`: one borrowed from a pool (not migrated, not closed here)."""

    kind = "postgresql"
    NOW = "EXTRACT(EPOCH FROM clock_timestamp())::float8"
    FOR_UPDATE = " FOR UPDATE"
    SKIP_LOCKED = " SKIP LOCKED"

    def __init__(self, url: str, *, readonly: bool = False, timeout: float = 30.0, connection: Any = None) -> None:
        super().__init__()
        self.url = url
        self.location = redact(url)
        self.readonly = readonly
        self.timeout = timeout
        self._psycopg = psycopg_module()
        self._borrowed = connection is not None
        self._conn: Any = None
        with self._translated():
            self._conn = connection if connection is not None else connect(url, timeout, readonly=readonly)
            if self._borrowed:
                return
            if readonly:
                self._check_version(self._read_version(missing_ok=False))
            else:
                self._migrate()

    # -- the connection ------------------------------------------------------------------------------------------

    def _raw(self) -> Connection:
        if not self._depth and (self._conn.closed or self._conn.broken) and not self._borrowed:
            log.info("catalog %s: connecting again", self.location)
            self._conn = connect(self.url, self.timeout, readonly=self.readonly)
        return PgConnection(self._conn)

    def _begin(self) -> None:
        self._raw().execute("BEGIN")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        if not (self._conn.closed or self._conn.broken):
            self._conn.execute("ROLLBACK")

    def _translate(self, exc: BaseException) -> BaseException | None:
        errors = self._psycopg.errors
        if isinstance(exc, errors.IntegrityError):
            return CatalogConflict(f"the catalog refused the write: {exc}".strip())
        # connection lost or refused, server shutting down, lock or statement timeouts, serialization failures
        # and deadlocks (both safe to retry): all OperationalError in psycopg
        if isinstance(exc, self._psycopg.OperationalError) or (
                isinstance(exc, self._psycopg.InterfaceError) and (self._conn is None or self._conn.closed)):
            detail = " ".join(str(exc).split()) or type(exc).__name__
            return CatalogUnavailable(f"the catalog {self.location} is busy or unreachable ({detail}); "
                                      "try again in a moment")
        return None

    def close(self) -> None:
        if not self._borrowed:
            with contextlib.suppress(Exception):
                self._conn.close()

    @contextlib.contextmanager
    def busy_wait(self, ms: int) -> Iterator[None]:
        wait = min(int(ms), int(self.timeout * 1000))
        with self._translated():
            self._raw().execute(f"SET lock_timeout = {wait}")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._conn.execute(f"SET lock_timeout = {int(self.timeout * 1000)}")

    # -- the schema -----------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        return self._read_version(missing_ok=True)

    def _read_version(self, *, missing_ok: bool) -> int:
        exists = self._conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
        if not exists:
            if missing_ok:
                return 0
            raise CatalogError(f"no catalog at {self.location}; make one with `dstrtd init DIR --catalog URL` "
                               "(or `dstrtd catalog migrate --to URL` from a studio)")
        row = self._conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        conn = self._conn
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            if conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            current = self._read_version(missing_ok=True)
            self._check_version(current)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in migration(version, "postgresql"):
                    conn.execute(statement)
                conn.execute("UPDATE schema_version SET version = %s", (version,))
                log.debug("catalog %s migrated to schema %d", self.location, version)
