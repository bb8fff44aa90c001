"""The job queue: prompts waiting for a worker, how a worker claims one, its progress, and how it ends.

A job is queued -> running (claimed by one worker) -> done | failed, or back to queued when its worker requeues it
(a NaN, an out-of-memory retry, a stop) or dies. Claims are atomic across processes: the SQLite queue takes the
write lock before it looks for the next job. No job write moves the gallery's revision.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from typing import Any, Protocol

from curation.catalog.database import Database
from curation.catalog.records import CatalogError, Job, now_iso, to_json
from curation.catalog.themes import SqliteThemes

PROGRESS_BUSY_MS = 1000  # why: progress is best-effort; a worker mid-piece waits at most this long for a busy catalog


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobQueue(Protocol):
    """What the worker, the CLI and the review page need from a job queue (SQLite here; PostgreSQL can follow)."""

    def enqueue(self, prompt: str, *, theme: str | None = None, settings: Mapping[str, Any] | None = None,
                priority: int = 0) -> int: ...

    def claim(self, worker: str | None = None) -> Job | None: ...

    def set_progress(self, job_id: int, step: int, steps: int, loss: float | None) -> bool: ...

    def finish(self, job_id: int, piece_id: int | None) -> None: ...

    def fail(self, job_id: int, error: str, *, requeue: bool, settings: Mapping[str, Any] | None = None) -> None: ...

    def requeue_running(self, worker: str | None = None) -> int: ...

    def cancel(self, job_id: int, reason: str = "") -> None: ...

    def set_priority(self, job_id: int, priority: int) -> None: ...

    def get(self, job_id: int) -> Job | None: ...

    def find(self, status: str | None = None, *, limit: int | None = None, newest_first: bool = False
             ) -> list[Job]: ...


class SqliteJobQueue:
    """The job queue in the catalog's `jobs` table."""

    def __init__(self, db: Database, themes: SqliteThemes) -> None:
        self._db = db
        self._themes = themes

    def enqueue(self, prompt: str, *, theme: str | None = None, settings: Mapping[str, Any] | None = None,
                priority: int = 0) -> int:
        """Queue a generation job; returns its id. `settings` are overrides for the generator config."""
        if not prompt.strip():
            raise CatalogError("a job needs a prompt, e.g. 'a coral reef:1'")
        self._themes.require(theme)
        with self._db.transaction(visible=False) as db:
            cur = db.execute(
                "INSERT INTO jobs (prompt, theme, settings, priority, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                (prompt, theme, to_json(dict(settings or {})), priority, now_iso(), now_iso()),
            )
            return int(cur.lastrowid)

    def claim(self, worker: str | None = None) -> Job | None:
        """Atomically take the next queued job for `worker` (highest priority, oldest first), or None."""
        worker = worker or default_worker_name()
        with self._db.transaction(visible=False) as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY priority DESC, id LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute(  # a new attempt starts with no progress: an earlier attempt's would mislead
                "UPDATE jobs SET status='running', worker=?, attempts=attempts+1, progress='{}', updated=? WHERE id=?",
                (worker, now_iso(), row["id"]))
            return Job.from_row(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def set_progress(self, job_id: int, step: int, steps: int, loss: float | None) -> bool:
        """Record how far a running job is (`step` of `steps` done, its latest loss); False when the job is not
        running (requeued or finished meanwhile), so nothing was written.

        One autocommit UPDATE that leaves the job's `updated` (its start, while running) alone. It waits at most
        PROGRESS_BUSY_MS for a busy catalog, then raises sqlite3.OperationalError (the caller logs and goes on).
        """
        self._db.require_writable()
        step, steps = int(step), int(steps)
        if steps < 1 or not 0 <= step <= steps:
            raise CatalogError(f"progress is step 0..steps of steps >= 1, not {step}/{steps}")
        value = None if loss is None or not math.isfinite(float(loss)) else float(loss)
        progress = to_json({"step": step, "steps": steps, "loss": value, "updated": now_iso()})
        with self._db.busy_wait(PROGRESS_BUSY_MS):
            cur = self._db.execute("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'",
                                   (progress, job_id))
        return cur.rowcount > 0

    def finish(self, job_id: int, piece_id: int | None) -> None:
        with self._db.transaction(visible=False) as db:
            db.execute("UPDATE jobs SET status='done', piece_id=?, error='', updated=? WHERE id=?",
                       (piece_id, now_iso(), job_id))

    def fail(self, job_id: int, error: str, *, requeue: bool, settings: Mapping[str, Any] | None = None) -> None:
        """Record a failure; `requeue` puts it back in the queue (optionally with changed settings)."""
        with self._db.transaction(visible=False) as db:
            if settings is not None:
                db.execute("UPDATE jobs SET settings=? WHERE id=?", (to_json(dict(settings)), job_id))
            db.execute("UPDATE jobs SET status=?, error=?, worker='', updated=? WHERE id=?",
                       ("queued" if requeue else "failed", error, now_iso(), job_id))

    def requeue_running(self, worker: str | None = None) -> int:
        """Put jobs left 'running' (by `worker`, or by anyone) back in the queue: run at start after a crash."""
        mine, params = (" AND worker=?", (worker,)) if worker is not None else ("", ())
        with self._db.transaction(visible=False) as db:
            cur = db.execute(f"UPDATE jobs SET status='queued', worker='', updated=? WHERE status='running'{mine}",
                             (now_iso(), *params))
            return cur.rowcount

    def cancel(self, job_id: int, reason: str = "") -> None:
        """Take a queued job out of the queue for good. It is kept, as failed with the error 'cancelled[: reason]',
        so the queue's history stays whole; a running job is stopped with its worker, not here."""
        error = "cancelled" + (f": {reason.strip()}" if reason.strip() else "")
        self._update_queued(job_id, "cancelled", "UPDATE jobs SET status='failed', error=?, worker='', updated=?",
                            (error, now_iso()))

    def set_priority(self, job_id: int, priority: int) -> None:
        """Move a queued job up (higher runs first) or down the queue."""
        self._update_queued(job_id, "reprioritised", "UPDATE jobs SET priority=?", (int(priority),))

    def _update_queued(self, job_id: int, done: str, update: str, params: tuple[Any, ...]) -> None:
        with self._db.transaction(visible=False) as db:
            cur = db.execute(f"{update} WHERE id=? AND status='queued'", (*params, job_id))
            if cur.rowcount:
                return
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise CatalogError(f"no job with id {job_id}; see `dstrtd catalog jobs`")
        raise CatalogError(f"job {job_id} is {row['status']}; only a queued job can be {done}")

    def get(self, job_id: int) -> Job | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def find(self, status: str | None = None, *, limit: int | None = None, newest_first: bool = False
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
