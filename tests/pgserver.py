"""A throwaway PostgreSQL server for the tests and the benchmarks: initdb into a temporary folder, listening on a Unix
socket only (no TCP port), on a free port number, as the `postgres` user where we run as root (PostgreSQL refuses
root), with fsync off (a test server outlives no machine crash). Used by tests/conftest.py (one server per
test session, a fresh database per test) and by bench/queue.py and bench/faults.py.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

TEMPLATE = "dstrtd_template"


def find_bindir() -> Path | None:
    """The folder of initdb and pg_ctl: $PG_BINDIR, PATH, pg_config --bindir, or Debian's /usr/lib/postgresql/N/bin."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                         check=True).stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def why_unavailable() -> str | None:
    """Why no server can start here (None: it can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    if find_bindir() is None:
        return ("PostgreSQL is not installed (no initdb in $PG_BINDIR, on PATH, from pg_config or in "
                "/usr/lib/postgresql/*/bin); .ci/run installs Debian's postgresql package")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One server in `base` (data, socket and log), started by `start()`; `url(db)` for psycopg and the catalog."""

    def __init__(self, base: Path) -> None:
        bindir = find_bindir()
        assert bindir is not None, why_unavailable()
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self._dbs = 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True, check=check,
                              user=self.user, cwd=self.base)

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            shutil.chown(self.base, self.user)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres", "--encoding=UTF8",
                  "--locale=C", "--no-sync")

    def start(self) -> None:
        # why fsync off but commits written: a crash of the server (the fault tests stop it at once) loses nothing
        # committed, a crash of the machine may, and nobody keeps a test server across one
        options = (f"-p {self.port} -k {self.base} -c listen_addresses='' -c fsync=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """Stop the server at once (immediate shutdown: clients see their connections drop)."""
        self.stop("immediate")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.base}&port={self.port}"

    def admin(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(self.url(), autocommit=True)

    def make_template(self) -> None:
        """A database migrated to the current schema, copied by `create()` (faster than migrating each time)."""
        from curation.catalog import Catalog

        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        Catalog(self.url(TEMPLATE), root=self.base).close()

    def create(self, name: str | None = None) -> str:
        """A new, migrated, empty catalog database; returns its URL."""
        self._dbs += 1
        name = name or f"t{self._dbs}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def drop(self, url: str) -> None:
        name = url.split("?")[0].rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def running(base: Path) -> Iterator[PostgresServer]:
    """A started server with the template database, stopped and removed on the way out."""
    server = PostgresServer(base)
    server.init()
    server.start()
    try:
        server.make_template()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def wait_until_up(server: PostgresServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.admin().close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def catalog_locked(location: str | os.PathLike[str], *, ready: object = None) -> Iterator[None]:
    """Another connection holds the catalog's write lock for the block: SQLite's BEGIN IMMEDIATE, or on PostgreSQL an
    EXCLUSIVE lock on the tables a worker writes (reads go on; writes wait, then time out). `ready` (an Event) is
    set once the lock is held."""
    if str(location).startswith("postgresql://"):
        import psycopg

        conn = psycopg.connect(str(location), autocommit=True)
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE jobs, pieces, piece_files, revision, workers IN EXCLUSIVE MODE")
        release = lambda: (conn.execute("ROLLBACK"), conn.close())  # noqa: E731
    else:
        import sqlite3

        db = sqlite3.connect(location, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        release = lambda: (db.execute("ROLLBACK"), db.close())  # noqa: E731
    if ready is not None:
        ready.set()
    try:
        yield
    finally:
        release()
