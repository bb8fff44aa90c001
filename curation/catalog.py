"""The catalog of a studio: themes, jobs, pieces, scores, decisions, clusters, exports, engagement (SQLite, WAL).

Standard library only: the gallery machine reads it without torch. Every write is one transaction; a piece's files
are written into a temporary folder and renamed into place before its row is committed, so a reader never sees half
a piece. Several workers may share one catalog: jobs are claimed with an immediate transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import socket
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curation.errors import CurationError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
PIECE_STATUSES = ("generated", "accepted", "rejected", "featured")
TITLE_MAX = 120  # why: two lines of a poster title or the gallery panel at their smallest type
# why: about what a phone shows under the image without scrolling; the gallery panel shows its first 4 lines
REFLECTION_MAX = 600
PUBLIC_STATUSES = ("accepted", "featured")
JOB_STATUSES = ("queued", "running", "done", "failed")


class CatalogError(CurationError):
    """A problem with the catalog or with what was asked of it; the message says what and how to fix it."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else {}


@dataclass(frozen=True)
class Theme:
    name: str
    prompts: tuple[str, ...] = ()
    reflection: str = ""
    facts: str = ""
    hashtags: tuple[str, ...] = ()
    negative_prompts: tuple[str, ...] = ()
    title: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Theme:
        return cls(
            name=row["name"],
            prompts=tuple(json.loads(row["prompts"])),
            reflection=row["reflection"],
            facts=row["facts"],
            hashtags=tuple(json.loads(row["hashtags"])),
            negative_prompts=tuple(json.loads(row["negative_prompts"])),
            title=row["title"],
        )


@dataclass(frozen=True)
class Job:
    id: int
    prompt: str
    theme: str | None
    settings: dict[str, Any]
    status: str
    attempts: int
    error: str
    worker: str
    piece_id: int | None
    created: str
    updated: str
    priority: int = 0
    # The latest progress a worker recorded for the current (or last) attempt; 0/None/"" before the first record.
    step: int = 0  # steps done, 1..steps
    steps: int = 0
    loss: float | None = None
    progressed: str = ""  # when `step` was recorded (ISO, UTC)

    @property
    def fraction(self) -> float | None:
        """How far the recorded progress is, 0..1, or None when there is none."""
        return min(1.0, self.step / self.steps) if self.steps > 0 else None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        progress = _loads(row["progress"])
        loss = progress.get("loss")
        return cls(
            id=row["id"], prompt=row["prompt"], theme=row["theme"], settings=_loads(row["settings"]),
            status=row["status"], attempts=row["attempts"], error=row["error"], worker=row["worker"],
            piece_id=row["piece_id"], created=row["created"], updated=row["updated"], priority=row["priority"],
            step=int(progress.get("step", 0)), steps=int(progress.get("steps", 0)),
            loss=None if loss is None else float(loss), progressed=str(progress.get("updated", "")),
        )


@dataclass(frozen=True)
class Piece:
    id: int
    slug: str
    file: str  # relative to the studio root, e.g. "pieces/coral-reef-3kq7a2/image.png"
    sha256: str
    theme: str | None
    prompt: str
    seed: int | None
    settings: dict[str, Any]
    created: str
    updated: str
    status: str
    title: str
    width: int
    height: int
    job_id: int | None
    scores: dict[str, float] = field(default_factory=dict)  # curator -> latest value
    reflection: str = ""  # the artist's words on this piece; "" shows its theme's (see `piece_reflection`)

    @property
    def folder(self) -> str:
        """The piece's own folder, relative to the studio root (its image, sidecar, loss trace and plot)."""
        return os.path.dirname(self.file)

    @classmethod
    def from_row(cls, row: sqlite3.Row, scores: dict[str, float] | None = None) -> Piece:
        return cls(
            id=row["id"], slug=row["slug"], file=row["file"], sha256=row["sha256"], theme=row["theme"],
            prompt=row["prompt"], seed=row["seed"], settings=_loads(row["settings"]), created=row["created"],
            updated=row["updated"], status=row["status"], title=row["title"], width=row["width"],
            height=row["height"], job_id=row["job_id"], scores=scores or {}, reflection=row["reflection"],
        )


def piece_reflection(piece: Piece, theme: Theme | None) -> str:
    """What visitors read about `piece`: its own reflection, else its theme's, else "" (paragraphs kept)."""
    if piece.reflection.strip():
        return piece.reflection.strip()
    return theme.reflection.strip() if theme is not None else ""


def tidy_reflection(text: str) -> str:
    """Spaces and line breaks inside a paragraph become one space; paragraphs (split by blank lines) stay apart."""
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n[ \t\r\f\v]*\n", text.replace("\r\n", "\n")))
    return "\n\n".join(p for p in paragraphs if p)


@dataclass(frozen=True)
class Score:
    piece_id: int
    curator: str
    version: str
    value: float
    details: dict[str, Any]
    created: str


@dataclass(frozen=True)
class Decision:
    piece_id: int
    decision: str
    reasons: tuple[str, ...]
    created: str


_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE themes (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        prompts TEXT NOT NULL DEFAULT '[]',
        negative_prompts TEXT NOT NULL DEFAULT '[]',
        reflection TEXT NOT NULL DEFAULT '',
        facts TEXT NOT NULL DEFAULT '',
        hashtags TEXT NOT NULL DEFAULT '[]',
        updated TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        prompt TEXT NOT NULL,
        theme TEXT REFERENCES themes(name) ON DELETE SET NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
        priority INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        worker TEXT NOT NULL DEFAULT '',
        piece_id INTEGER,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX jobs_status ON jobs(status, priority DESC, id);
    CREATE TABLE pieces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        slug TEXT NOT NULL UNIQUE,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        theme TEXT REFERENCES themes(name) ON DELETE SET NULL,
        prompt TEXT NOT NULL DEFAULT '',
        seed INTEGER,
        settings TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'generated'
            CHECK (status IN ('generated', 'accepted', 'rejected', 'featured')),
        title TEXT NOT NULL DEFAULT '',
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX pieces_status ON pieces(status);
    CREATE TABLE scores (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        curator TEXT NOT NULL,
        version TEXT NOT NULL DEFAULT '',
        value REAL NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE INDEX scores_piece ON scores(piece_id, curator);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        decision TEXT NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL
    );
    CREATE TABLE clusters (
        run TEXT NOT NULL,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        label INTEGER NOT NULL,
        distance REAL NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        PRIMARY KEY (run, piece_id)
    );
    CREATE TABLE exports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        path TEXT NOT NULL DEFAULT '',
        external_id TEXT NOT NULL DEFAULT '',
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE INDEX exports_external ON exports(kind, external_id);
    CREATE TABLE engagement (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        platform TEXT NOT NULL,
        external_id TEXT NOT NULL,
        likes INTEGER NOT NULL DEFAULT 0,
        comments INTEGER NOT NULL DEFAULT 0,
        details TEXT NOT NULL DEFAULT '{}',
        fetched TEXT NOT NULL
    );
    CREATE INDEX engagement_piece ON engagement(piece_id, platform, fetched);
    """,
    2: """
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        command TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL,
        taken TEXT
    );
    CREATE INDEX commands_target ON commands(target, taken, id);
    CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
    INSERT INTO revision (id, value) VALUES (1, 0);
    """,
    3: """
    ALTER TABLE pieces ADD COLUMN reflection TEXT NOT NULL DEFAULT ''
    """,
    # JSON {"step", "steps", "loss", "updated"} of a job's current attempt, written by `set_job_progress`
    4: """
    ALTER TABLE jobs ADD COLUMN progress TEXT NOT NULL DEFAULT '{}'
    """,
}

PROGRESS_BUSY_MS = 1000  # why: progress is best-effort; a worker mid-piece waits at most this long for a busy catalog

_SLUG_RE = re.compile(r"[^a-z0-9]+")


def control_characters(text: str, allow: str = "") -> list[str]:
    """The control characters in `text` (but those in `allow`), as U+XXXX: a NUL in a title stops the display's
    font renderer, and none belongs in words meant to be read."""
    return sorted({f"U+{ord(c):04X}" for c in text if c not in allow and unicodedata.category(c) == "Cc"})


def slugify(text: str, max_len: int = 32) -> str:
    """Lower-case ASCII words joined by '-', cut at a word boundary: 'Old-growth Forest!' -> 'old-growth-forest'."""
    slug = _SLUG_RE.sub("-", text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "piece"


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG header, or (0, 0) for anything else (no Pillow needed)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return 0, 0


class Catalog:
    """One studio's catalog. Open with `Catalog(path)`; use as a context manager or call `close()`.

    Connections are per instance and not shared between threads; each worker process opens its own.
    """

    def __init__(self, path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                 readonly: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.root = Path(root) if root is not None else self.path.parent
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise CatalogError(f"no catalog at {self.path}; make a studio first with `dstrtd init DIR`")
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
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

    # -- plumbing -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: takes the write lock up front, so claims never race)."""
        if self.readonly:
            raise CatalogError("this catalog was opened read-only")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("UPDATE revision SET value = value + 1 WHERE id = 1")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

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
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            log.debug("catalog %s migrated to schema %d", self.path, version)

    def revision(self) -> int:
        """A number that grows with every committed write: poll it to notice changes cheaply."""
        return int(self._db.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0])

    def abspath(self, relative: str) -> Path:
        """The absolute path of a file named relative to the studio root; refuses paths that leave the studio."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise CatalogError(f"path {relative!r} leaves the studio {self.root}")
        return path

    # -- themes -------------------------------------------------------------------------------------------------

    def upsert_theme(self, theme: Theme) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT INTO themes (name, title, prompts, negative_prompts, reflection, facts, hashtags, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET title=excluded.title, prompts=excluded.prompts,
                     negative_prompts=excluded.negative_prompts, reflection=excluded.reflection,
                     facts=excluded.facts, hashtags=excluded.hashtags, updated=excluded.updated""",
                (theme.name, theme.title, json.dumps(list(theme.prompts)), json.dumps(list(theme.negative_prompts)),
                 theme.reflection, theme.facts, json.dumps(list(theme.hashtags)), now_iso()),
            )

    def get_theme(self, name: str) -> Theme | None:
        row = self._db.execute("SELECT * FROM themes WHERE name = ?", (name,)).fetchone()
        return Theme.from_row(row) if row else None

    def list_themes(self) -> list[Theme]:
        return [Theme.from_row(r) for r in self._db.execute("SELECT * FROM themes ORDER BY name")]

    # -- jobs ---------------------------------------------------------------------------------------------------

    def enqueue(self, prompt: str, *, theme: str | None = None, settings: Mapping[str, Any] | None = None,
                priority: int = 0) -> int:
        """Queue a generation job; returns its id. `settings` are overrides for the generator config."""
        if not prompt.strip():
            raise CatalogError("a job needs a prompt, e.g. 'a coral reef:1'")
        if theme is not None and self.get_theme(theme) is None:
            known = ", ".join(t.name for t in self.list_themes()) or "none"
            raise CatalogError(f"unknown theme {theme!r}; known themes: {known}")
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO jobs (prompt, theme, settings, priority, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                (prompt, theme, _dumps(dict(settings or {})), priority, now_iso(), now_iso()),
            )
            return int(cur.lastrowid)

    def claim_job(self, worker: str | None = None) -> Job | None:
        """Atomically take the next queued job for `worker` (highest priority, oldest first), or None."""
        worker = worker or default_worker_name()
        with self.transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY priority DESC, id LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute(  # a new attempt starts with no progress: an earlier attempt's would mislead
                "UPDATE jobs SET status='running', worker=?, attempts=attempts+1, progress='{}', updated=? WHERE id=?",
                (worker, now_iso(), row["id"]))
            return Job.from_row(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def finish_job(self, job_id: int, piece_id: int | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE jobs SET status='done', piece_id=?, error='', updated=? WHERE id=?",
                       (piece_id, now_iso(), job_id))

    def fail_job(self, job_id: int, error: str, *, requeue: bool, settings: Mapping[str, Any] | None = None) -> None:
        """Record a failure; `requeue` puts it back in the queue (optionally with changed settings)."""
        with self.transaction() as db:
            if settings is not None:
                db.execute("UPDATE jobs SET settings=? WHERE id=?", (_dumps(dict(settings)), job_id))
            db.execute("UPDATE jobs SET status=?, error=?, worker='', updated=? WHERE id=?",
                       ("queued" if requeue else "failed", error, now_iso(), job_id))

    def set_job_progress(self, job_id: int, step: int, steps: int, loss: float | None) -> bool:
        """Record how far a running job is (`step` of `steps` done, its latest loss); False when the job is not
        running (requeued or finished meanwhile), so nothing was written.

        One autocommit UPDATE that leaves `revision()` and the job's `updated` (its start, while running) alone:
        progress is no gallery change, and the gallery reloads its pieces when the revision moves. It waits at most
        PROGRESS_BUSY_MS for a busy catalog, then raises sqlite3.OperationalError (the caller logs and goes on).
        """
        if self.readonly:
            raise CatalogError("this catalog was opened read-only")
        step, steps = int(step), int(steps)
        if steps < 1 or not 0 <= step <= steps:
            raise CatalogError(f"progress is step 0..steps of steps >= 1, not {step}/{steps}")
        value = None if loss is None or not math.isfinite(float(loss)) else float(loss)
        progress = _dumps({"step": step, "steps": steps, "loss": value, "updated": now_iso()})
        busy = int(self._db.execute("PRAGMA busy_timeout").fetchone()[0])
        self._db.execute(f"PRAGMA busy_timeout = {min(busy, PROGRESS_BUSY_MS)}")
        try:
            cur = self._db.execute("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'",
                                   (progress, job_id))
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {busy}")
        return cur.rowcount > 0

    def requeue_running(self, worker: str | None = None) -> int:
        """Put jobs left 'running' (by `worker`, or by anyone) back in the queue: run at start after a crash."""
        with self.transaction() as db:
            if worker is None:
                cur = db.execute("UPDATE jobs SET status='queued', worker='', updated=? WHERE status='running'",
                                 (now_iso(),))
            else:
                cur = db.execute(
                    "UPDATE jobs SET status='queued', worker='', updated=? WHERE status='running' AND worker=?",
                    (now_iso(), worker))
            return cur.rowcount

    def get_job(self, job_id: int) -> Job | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def list_jobs(self, status: str | None = None, *, limit: int | None = None, newest_first: bool = False
                  ) -> list[Job]:
        """Jobs of one status (or all), oldest first unless `newest_first` (newest by last change), at most `limit`."""
        where, params = ("WHERE status = ?", [status]) if status is not None else ("", [])
        order = "ORDER BY updated DESC, id DESC" if newest_first else "ORDER BY id"
        limit_sql = ""
        if limit is not None:
            limit_sql = " LIMIT ?"
            params.append(int(limit))
        rows = self._db.execute(f"SELECT * FROM jobs {where} {order}{limit_sql}", params)
        return [Job.from_row(r) for r in rows]

    # -- pieces -------------------------------------------------------------------------------------------------

    def add_piece(self, files: Mapping[str, str | os.PathLike[str] | bytes], *, prompt: str,
                  theme: str | None = None, seed: int | None = None, settings: Mapping[str, Any] | None = None,
                  title: str = "", status: str = "generated", job_id: int | None = None,
                  image_name: str = "image.png") -> Piece:
        """Add a piece atomically. `files` maps names inside the piece's folder to source paths or bytes and must
        hold `image_name`. The folder is assembled under a temporary name and renamed into `pieces/<slug>/` before
        the row commits; if anything fails, neither the folder nor the row is left behind.
        """
        if image_name not in files:
            raise CatalogError(f"add_piece needs the image file {image_name!r} among {sorted(files)}")
        if status not in PIECE_STATUSES:
            raise CatalogError(f"unknown piece status {status!r}; one of {', '.join(PIECE_STATUSES)}")
        if theme is not None and self.get_theme(theme) is None:
            known = ", ".join(t.name for t in self.list_themes()) or "none"
            raise CatalogError(f"unknown theme {theme!r}; known themes: {known}")
        pieces_dir = self.root / "pieces"
        pieces_dir.mkdir(parents=True, exist_ok=True)
        tmp = pieces_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            for name, src in files.items():
                if "/" in name or "\\" in name or name.startswith("."):
                    raise CatalogError(f"piece file name {name!r} must be a plain file name")
                dest = tmp / name
                if isinstance(src, bytes):
                    dest.write_bytes(src)
                else:
                    shutil.copyfile(src, dest)
            with open(tmp / image_name, "rb") as f:
                os.fsync(f.fileno())
            digest = sha256_file(tmp / image_name)
            width, height = _png_size(tmp / image_name)
            base = slugify(title or theme or prompt.split(":")[0], 24)
            slug = f"{base}-{digest[:6]}"
            with self.transaction() as db:
                n = 6
                while db.execute("SELECT 1 FROM pieces WHERE slug = ?", (slug,)).fetchone() or \
                        (pieces_dir / slug).exists():
                    n += 1
                    slug = f"{base}-{digest[:n]}" if n <= 64 else f"{base}-{uuid.uuid4().hex[:8]}"
                os.rename(tmp, pieces_dir / slug)
                try:
                    cur = db.execute(
                        """INSERT INTO pieces (slug, file, sha256, theme, prompt, seed, settings, status, title,
                             width, height, job_id, created, updated)
                           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (slug, f"pieces/{slug}/{image_name}", digest, theme, prompt, seed,
                         _dumps(dict(settings or {})), status, title, width, height, job_id, now_iso(), now_iso()),
                    )
                except BaseException:
                    os.rename(pieces_dir / slug, tmp)
                    raise
                piece_id = int(cur.lastrowid)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        piece = self.get_piece(piece_id)
        assert piece is not None
        return piece

    def _scores_for(self, piece_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        out: dict[int, dict[str, float]] = {i: {} for i in piece_ids}
        if not piece_ids:
            return out
        marks = ",".join("?" * len(piece_ids))
        rows = self._db.execute(
            f"""SELECT piece_id, curator, value FROM scores WHERE id IN (
                  SELECT MAX(id) FROM scores WHERE piece_id IN ({marks}) GROUP BY piece_id, curator)""",
            tuple(piece_ids))
        for r in rows:
            out[r["piece_id"]][r["curator"]] = r["value"]
        return out

    def _pieces(self, where: str, params: Sequence[Any]) -> list[Piece]:
        rows = self._db.execute(f"SELECT * FROM pieces {where}", tuple(params)).fetchall()
        scores = self._scores_for([r["id"] for r in rows])
        return [Piece.from_row(r, scores[r["id"]]) for r in rows]

    def get_piece(self, piece_id: int) -> Piece | None:
        found = self._pieces("WHERE id = ?", (piece_id,))
        return found[0] if found else None

    def get_piece_by_slug(self, slug: str) -> Piece | None:
        found = self._pieces("WHERE slug = ?", (slug,))
        return found[0] if found else None

    def list_pieces(self, status: str | Sequence[str] | None = None, *, theme: str | None = None,
                    limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[Piece]:
        """Pieces filtered by status (one or several) and theme, oldest first unless `newest_first`."""
        clauses, params = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                if s not in PIECE_STATUSES:
                    raise CatalogError(f"unknown piece status {s!r}; one of {', '.join(PIECE_STATUSES)}")
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if theme is not None:
            clauses.append("theme = ?")
            params.append(theme)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        where += f" ORDER BY id {'DESC' if newest_first else 'ASC'}"
        if limit is not None:
            where += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return self._pieces(where, params)

    def count_pieces(self, status: str | Sequence[str] | None = None) -> int:
        if status is None:
            return int(self._db.execute("SELECT COUNT(*) FROM pieces").fetchone()[0])
        statuses = [status] if isinstance(status, str) else list(status)
        return int(self._db.execute(
            f"SELECT COUNT(*) FROM pieces WHERE status IN ({','.join('?' * len(statuses))})", statuses).fetchone()[0])

    def set_status(self, piece_id: int, status: str) -> None:
        if status not in PIECE_STATUSES:
            raise CatalogError(f"unknown piece status {status!r}; one of {', '.join(PIECE_STATUSES)}")
        with self.transaction() as db:
            cur = db.execute("UPDATE pieces SET status=?, updated=? WHERE id=?", (status, now_iso(), piece_id))
            if cur.rowcount == 0:
                raise CatalogError(f"no piece with id {piece_id}")

    def set_title(self, piece_id: int, title: str) -> None:
        """Name a piece (pages, posters, gallery); an empty title falls back to its theme's title."""
        title = " ".join(title.split())
        bad = control_characters(title)
        if bad:
            raise CatalogError(f"a title is plain text; it holds control characters {', '.join(bad)}")
        if len(title) > TITLE_MAX:
            raise CatalogError(f"a title is at most {TITLE_MAX} characters (posters and the gallery panel show it "
                               f"whole), not {len(title)}")
        self._set_piece_text(piece_id, "title", title)

    def set_reflection(self, piece_id: int, text: str) -> None:
        """The artist's reflection on one piece, shown instead of its theme's (page, API, gallery, post); an
        empty text goes back to the theme's. Whitespace is tidied, paragraph breaks (blank lines) are kept."""
        text = tidy_reflection(text)
        if len(text) > REFLECTION_MAX:
            raise CatalogError(f"a reflection is at most {REFLECTION_MAX} characters (the gallery shows 4 lines of it, "
                               f"the page the rest), not {len(text)}; shorten it by {len(text) - REFLECTION_MAX}")
        bad = control_characters(text, allow="\n")
        if bad:
            raise CatalogError(f"a reflection is plain text; it holds control characters {', '.join(bad)}")
        self._set_piece_text(piece_id, "reflection", text)

    def _set_piece_text(self, piece_id: int, column: str, text: str) -> None:
        """Write one checked text column of a piece (in its own transaction, so the revision moves)."""
        assert column in ("title", "reflection")  # a column name, never user input
        with self.transaction() as db:
            cur = db.execute(f"UPDATE pieces SET {column}=?, updated=? WHERE id=?", (text, now_iso(), piece_id))
            if cur.rowcount == 0:
                raise CatalogError(f"no piece with id {piece_id}")

    # -- scores, decisions, clusters ----------------------------------------------------------------------------

    def add_score(self, piece_id: int, curator: str, value: float, *, version: str = "",
                  details: Mapping[str, Any] | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO scores (piece_id, curator, version, value, details, created) VALUES (?, ?, ?, ?, ?, ?)",
                (piece_id, curator, version, float(value), _dumps(dict(details or {})), now_iso()))

    def scores(self, piece_id: int) -> list[Score]:
        rows = self._db.execute("SELECT * FROM scores WHERE piece_id = ? ORDER BY id", (piece_id,))
        return [Score(r["piece_id"], r["curator"], r["version"], r["value"], _loads(r["details"]), r["created"])
                for r in rows]

    def decide(self, piece_id: int, decision: str, reasons: Sequence[str]) -> None:
        """Record a decision with its reasons and set the piece's status to it (accepted/rejected/featured)."""
        if decision not in PIECE_STATUSES or decision == "generated":
            raise CatalogError(f"a decision is one of accepted, rejected, featured, not {decision!r}")
        with self.transaction() as db:
            cur = db.execute("UPDATE pieces SET status=?, updated=? WHERE id=?", (decision, now_iso(), piece_id))
            if cur.rowcount == 0:
                raise CatalogError(f"no piece with id {piece_id}")
            db.execute("INSERT INTO decisions (piece_id, decision, reasons, created) VALUES (?, ?, ?, ?)",
                       (piece_id, decision, json.dumps(list(reasons)), now_iso()))

    def decisions(self, piece_id: int) -> list[Decision]:
        rows = self._db.execute("SELECT * FROM decisions WHERE piece_id = ? ORDER BY id", (piece_id,))
        return [Decision(r["piece_id"], r["decision"], tuple(json.loads(r["reasons"])), r["created"]) for r in rows]

    def set_clusters(self, run: str, labels: Mapping[int, int], distances: Mapping[int, float] | None = None) -> None:
        """Store one clustering run: piece id -> cluster label (and distance to its centroid)."""
        distances = distances or {}
        with self.transaction() as db:
            db.execute("DELETE FROM clusters WHERE run = ?", (run,))
            db.executemany(
                "INSERT INTO clusters (run, piece_id, label, distance, created) VALUES (?, ?, ?, ?, ?)",
                [(run, pid, int(lab), float(distances.get(pid, 0.0)), now_iso()) for pid, lab in labels.items()])

    def clusters(self, run: str | None = None) -> dict[int, int]:
        """piece id -> label for `run`, or for the most recent run when None."""
        if run is None:
            row = self._db.execute("SELECT run FROM clusters ORDER BY created DESC, rowid DESC LIMIT 1").fetchone()
            if row is None:
                return {}
            run = row["run"]
        return {r["piece_id"]: r["label"] for r in
                self._db.execute("SELECT piece_id, label FROM clusters WHERE run = ?", (run,))}

    # -- exports and engagement ---------------------------------------------------------------------------------

    def add_export(self, piece_id: int, kind: str, path: str = "", *, external_id: str = "",
                   details: Mapping[str, Any] | None = None) -> int:
        """Record an export (poster, social, instagram publication with its shortcode as `external_id`, ...)."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO exports (piece_id, kind, path, external_id, details, created) VALUES (?, ?, ?, ?, ?, ?)",
                (piece_id, kind, path, external_id, _dumps(dict(details or {})), now_iso()))
            return int(cur.lastrowid)

    def exports(self, piece_id: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        clauses, params = [], []
        if piece_id is not None:
            clauses.append("piece_id = ?")
            params.append(piece_id)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._db.execute(f"SELECT * FROM exports {where} ORDER BY id", params)
        return [dict(r) | {"details": _loads(r["details"])} for r in rows]

    def add_engagement(self, piece_id: int, platform: str, external_id: str, *, likes: int, comments: int,
                       details: Mapping[str, Any] | None = None, fetched: str | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT INTO engagement (piece_id, platform, external_id, likes, comments, details, fetched)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (piece_id, platform, external_id, int(likes), int(comments), _dumps(dict(details or {})),
                 fetched or now_iso()))

    def engagement(self, piece_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM engagement WHERE piece_id = ? ORDER BY fetched, id", (piece_id,))
        return [dict(r) | {"details": _loads(r["details"])} for r in rows]

    # -- the local control channel (web -> display) -------------------------------------------------------------

    def post_command(self, target: str, command: str, args: Mapping[str, Any] | None = None) -> int:
        """Leave a command (e.g. target 'display', command 'next') for a running part to take."""
        with self.transaction() as db:
            cur = db.execute("INSERT INTO commands (target, command, args, created) VALUES (?, ?, ?, ?)",
                             (target, command, _dumps(dict(args or {})), now_iso()))
            return int(cur.lastrowid)

    def take_commands(self, target: str) -> list[tuple[str, dict[str, Any]]]:
        """Take (and mark taken) the pending commands for `target`, oldest first.

        An empty poll reads only: it neither writes nor moves `revision()`, so a display polling every second
        leaves the catalog alone.
        """
        pending = "SELECT 1 FROM commands WHERE target = ? AND taken IS NULL LIMIT 1"
        if self._db.execute(pending, (target,)).fetchone() is None:
            return []
        with self.transaction() as db:
            rows = db.execute("SELECT id, command, args FROM commands WHERE target = ? AND taken IS NULL ORDER BY id",
                              (target,)).fetchall()
            if rows:
                db.execute(f"UPDATE commands SET taken = ? WHERE id IN ({','.join('?' * len(rows))})",
                           (now_iso(), *[r["id"] for r in rows]))
        return [(r["command"], _loads(r["args"])) for r in rows]

    # -- housekeeping -------------------------------------------------------------------------------------------

    def _rowless_folders(self) -> list[Path]:
        """Piece folders with no catalog row: left by a writer killed between its rename and its commit."""
        pieces_dir = self.root / "pieces"
        if not pieces_dir.is_dir():
            return []
        slugs = {r[0] for r in self._db.execute("SELECT slug FROM pieces")}
        return sorted(p for p in pieces_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name not in slugs)

    def remove_orphans(self, older_than_s: float = 3600.0) -> list[Path]:
        """Tidy what crashed writers left (older than `older_than_s`, so no live writer is touched): temporary
        folders are deleted; finished piece folders that never got their row are moved, not deleted, into
        `pieces/.orphaned/` (their jobs were requeued; the images are kept for a person to look at).
        Returns the paths removed or moved.
        """
        touched: list[Path] = []
        pieces_dir = self.root / "pieces"
        if not pieces_dir.is_dir():
            return touched
        cutoff = time.time() - older_than_s
        for p in pieces_dir.glob(".tmp-*"):
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)
                touched.append(p)
        for p in self._rowless_folders():
            if p.stat().st_mtime < cutoff:
                dest = pieces_dir / ".orphaned" / p.name
                dest.parent.mkdir(exist_ok=True)
                if dest.exists():  # the same piece was orphaned before: identical content-named folder
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.replace(p, dest)
                log.warning("piece folder %s had no catalog row; moved to %s", p.name, dest)
                touched.append(p)
        return touched

    def check(self) -> list[str]:
        """Consistency problems: SQLite integrity, pieces whose file is missing or whose checksum differs, and
        piece folders that have no catalog row."""
        problems = []
        ok = self._db.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"sqlite integrity: {ok}")
        for piece in self.list_pieces():
            path = self.root / piece.file
            if not path.is_file():
                problems.append(f"piece {piece.slug}: file {piece.file} is missing")
            elif sha256_file(path) != piece.sha256:
                problems.append(f"piece {piece.slug}: file {piece.file} does not match its sha256")
        for folder in self._rowless_folders():
            problems.append(f"folder pieces/{folder.name} has no catalog row (a writer was killed mid-piece); "
                            "`dstrtd studio` moves such folders to pieces/.orphaned/ after an hour")
        return problems


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
