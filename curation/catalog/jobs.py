"""The job queue: prompts waiting for a worker, how a worker claims one, its lease, its progress, and how it ends.

A job is queued -> running (claimed by one worker) -> done | failed, or back to queued when its worker requeues it
(a NaN, an out-of-memory retry, a stop) or stops renewing its lease. Claims are atomic across processes and machines:
SQLite takes the write lock before it looks for the next job, PostgreSQL locks the rows it takes with
`FOR UPDATE SKIP LOCKED`, so workers never wait on each other's candidates.

Leases: a claim holds the job for `lease` seconds of the catalog's clock (never a worker's, which may be wrong);
the worker renews it while it works (`renew`, progress writes). Whoever claims next returns expired leases to the
queue (`reap`), from any machine, and fails a job at the attempts cap with the reason instead of trying it forever.
A job ends done once: `finish` is idempotent, and a job owns at most one piece (a unique index, schema 5).
No job write moves the gallery's revision.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from curation.catalog.database import Connection, Database
from curation.catalog.records import LEASE_S, CatalogConflict, CatalogError, Job, now_iso, to_json
from curation.catalog.themes import SqlThemes

PROGRESS_BUSY_MS = 1000  # why: progress is best-effort; a worker mid-piece waits at most this long for a busy catalog
# why 5: a job dies for itself (its settings, its prompt) after two or three tries; five leaves room for a machine
# that died under it, and out-of-memory shrinking (4 smaller retries) still fits
MAX_ATTEMPTS = 5
_PAGE = 32  # candidates looked at per query while a worker skips jobs it cannot run

Accept = Callable[[Job], bool]  # whether a worker can run a job (its models, its size)


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobQueue(Protocol):
    """What the worker, the CLI and the review page need from a job queue (one SQL for SQLite and PostgreSQL)."""

    def enqueue(self, prompt: str, *, theme: str | None = None, settings: Mapping[str, Any] | None = None,
                priority: int = 0) -> int: ...

    def claim(self, worker: str | None = None, *, lease: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS,
              accept: Accept | None = None) -> Job | None: ...

    def claim_many(self, worker: str | None, n: int, *, lease: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS,
                   accept: Accept | None = None) -> list[Job]: ...

    def renew(self, job_id: int, worker: str) -> bool: ...

    def reap(self, max_attempts: int = MAX_ATTEMPTS, *, worker: str | None = None) -> int: ...

    def set_progress(self, job_id: int, step: int, steps: int, loss: float | None, *, worker: str | None = None
                     ) -> bool: ...

    def lock(self, job_id: int) -> Job: ...

    def finish(self, job_id: int, piece_id: int | None) -> None: ...

    def fail(self, job_id: int, error: str, *, requeue: bool, settings: Mapping[str, Any] | None = None,
             worker: str | None = None) -> bool: ...

    def release(self, job_id: int, reason: str, *, worker: str | None = None) -> bool: ...

    def requeue_running(self, worker: str | None = None) -> int: ...

    def cancel(self, job_id: int, reason: str = "") -> None: ...

    def set_priority(self, job_id: int, priority: int) -> None: ...

    def get(self, job_id: int) -> Job | None: ...

    def find(self, status: str | None = None, *, limit: int | None = None, newest_first: bool = False
             ) -> list[Job]: ...


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqlJobQueue:
    """The job queue in the catalog's `jobs` table."""

    def __init__(self, db: Database, themes: SqlThemes) -> None:
        self._db = db
        self._themes = themes

    def enqueue(self, prompt: str, *, theme: str | None = None, settings: Mapping[str, Any] | None = None,
                priority: int = 0) -> int:
        """Queue a generation job; returns its id. `settings` are overrides for the generator config."""
        if not prompt.strip():
            raise CatalogError("a job needs a prompt, e.g. 'a coral reef:1'")
        self._themes.require(theme)
        with self._db.transaction(visible=False) as db:
            return int(db.execute(
                "INSERT INTO jobs (prompt, theme, settings, priority, created, updated) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (prompt, theme, to_json(dict(settings or {})), int(priority), now_iso(), now_iso())).fetchone()[0])

    def claim(self, worker: str | None = None, *, lease: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS,
              accept: Accept | None = None) -> Job | None:
        """Atomically take the next queued job for `worker` (highest priority, oldest first) that `accept` allows,
        or None."""
        jobs = self.claim_many(worker, 1, lease=lease, max_attempts=max_attempts, accept=accept)
        return jobs[0] if jobs else None

    def claim_many(self, worker: str | None, n: int, *, lease: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS,
                   accept: Accept | None = None) -> list[Job]:
        """Take up to `n` queued jobs in one transaction, each held for `lease` seconds. Expired leases go back to
        the queue first; a queued job already tried `max_attempts` times is failed with its last error instead."""
        worker = worker or default_worker_name()
        if lease <= 0 or max_attempts < 1 or n < 1:
            raise CatalogError(f"a claim needs lease > 0, max_attempts >= 1 and n >= 1, not {lease}, {max_attempts}, "
                               f"{n}")
        with self._db.transaction(visible=False) as db:
            self._reap(db, max_attempts, None)
            chosen: list[int] = []
            after: tuple[int, int] | None = None
            while len(chosen) < n:
                page = "" if after is None else " AND (priority < ? OR (priority = ? AND id > ?))"
                params: tuple[Any, ...] = () if after is None else (after[0], after[0], after[1])
                rows = db.execute(f"SELECT * FROM jobs WHERE status = 'queued'{page} ORDER BY priority DESC, id "
                                  f"LIMIT ?{self._db.FOR_UPDATE}{self._db.SKIP_LOCKED}", (*params, _PAGE)).fetchall()
                for row in rows:
                    job = Job.from_row(row)
                    if job.attempts >= max_attempts:
                        self._give_up(db, job, max_attempts, job.error or "no error recorded")
                    elif len(chosen) < n and (accept is None or accept(job)):
                        chosen.append(job.id)
                if len(rows) < _PAGE:
                    break
                after = (rows[-1]["priority"], rows[-1]["id"])
            if not chosen:
                return []
            db.execute(  # a new attempt starts with no progress: an earlier attempt's would mislead
                f"UPDATE jobs SET status = 'running', worker = ?, attempts = attempts + 1, progress = '{{}}', "
                f"lease_s = ?, lease_until = {self._db.NOW} + ?, updated = ? WHERE id IN ({_marks(len(chosen))})",
                (worker, float(lease), float(lease), now_iso(), *chosen))
            db.execute("UPDATE workers SET job_id = ? WHERE name = ?", (chosen[0], worker))
            rows = db.execute(f"SELECT * FROM jobs WHERE id IN ({_marks(len(chosen))})", chosen).fetchall()
        by_id = {r["id"]: Job.from_row(r) for r in rows}
        return [by_id[i] for i in chosen]

    def _give_up(self, db: Connection, job: Job, max_attempts: int, last: str) -> None:
        error = f"gave up after {job.attempts} attempts (the cap is {max_attempts}); the last: {last}"
        db.execute("UPDATE jobs SET status = 'failed', error = ?, worker = '', lease_until = NULL, updated = ? "
                   "WHERE id = ?", (error, now_iso(), job.id))

    def reap(self, max_attempts: int = MAX_ATTEMPTS, *, worker: str | None = None) -> int:
        """Return jobs whose lease expired (or every running job of `worker`, known to be dead) to the queue, or fail
        them at the attempts cap; returns how many."""
        with self._db.transaction(visible=False) as db:
            return self._reap(db, max_attempts, worker)

    def _reap(self, db: Connection, max_attempts: int, worker: str | None) -> int:
        which, params = ((" AND worker = ?", (worker,)) if worker is not None
                         else (f" AND (lease_until IS NULL OR lease_until < {self._db.NOW})", ()))
        rows = db.execute(f"SELECT * FROM jobs WHERE status = 'running'{which}"
                          f"{self._db.FOR_UPDATE}{self._db.SKIP_LOCKED}", params).fetchall()
        for row in rows:
            job = Job.from_row(row)
            why = (f"attempt {job.attempts} ended without a result: its worker {job.worker or '?'} stopped "
                   f"{'(found dead)' if worker is not None else 'renewing its lease'}")
            if job.attempts >= max_attempts:
                self._give_up(db, job, max_attempts, why)
            else:
                db.execute("UPDATE jobs SET status = 'queued', error = ?, worker = '', lease_until = NULL, "
                           "updated = ? WHERE id = ?", (f"{why}; requeued", now_iso(), job.id))
        return len(rows)

    def renew(self, job_id: int, worker: str) -> bool:
        """Extend `worker`'s lease on a running job by its lease length; False when the job is no longer its own
        (the lease expired and the job went back, or it ended). Waits at most PROGRESS_BUSY_MS for a busy catalog."""
        self._db.require_writable()
        with self._db.busy_wait(PROGRESS_BUSY_MS):
            cur = self._db.execute(
                f"UPDATE jobs SET lease_until = {self._db.NOW} + lease_s "
                "WHERE id = ? AND worker = ? AND status = 'running'", (job_id, worker))
        return cur.rowcount > 0

    def set_progress(self, job_id: int, step: int, steps: int, loss: float | None, *, worker: str | None = None
                     ) -> bool:
        """Record how far a running job is (`step` of `steps` done, its latest loss) and renew its lease; False when
        the job is not running (for `worker`, when given), so nothing was written.

        One autocommit UPDATE that leaves the job's `updated` (its start, while running) alone. It waits at most
        PROGRESS_BUSY_MS for a busy catalog, then raises CatalogUnavailable (the caller logs and goes on).
        """
        self._db.require_writable()
        step, steps = int(step), int(steps)
        if steps < 1 or not 0 <= step <= steps:
            raise CatalogError(f"progress is step 0..steps of steps >= 1, not {step}/{steps}")
        value = None if loss is None or not math.isfinite(float(loss)) else float(loss)
        progress = to_json({"step": step, "steps": steps, "loss": value, "updated": now_iso()})
        mine, params = (" AND worker = ?", (worker,)) if worker is not None else ("", ())
        with self._db.busy_wait(PROGRESS_BUSY_MS):
            cur = self._db.execute(
                f"UPDATE jobs SET progress = ?, lease_until = {self._db.NOW} + lease_s "
                f"WHERE id = ? AND status = 'running'{mine}", (progress, job_id, *params))
        return cur.rowcount > 0

    def lock(self, job_id: int) -> Job:
        """The job, locked until the surrounding transaction ends (call it inside one)."""
        row = self._db.execute(f"SELECT * FROM jobs WHERE id = ?{self._db.FOR_UPDATE}", (job_id,)).fetchone()
        if row is None:
            raise CatalogError(f"no job with id {job_id}; see `dstrtd catalog jobs`")
        return Job.from_row(row)

    def finish(self, job_id: int, piece_id: int | None) -> None:
        """Mark a job done (with its piece). Idempotent: finishing a done job again with the same piece does nothing;
        with another piece it is refused (CatalogConflict), since a job owns one piece."""
        with self._db.transaction(visible=False) as db:
            job = self.lock(job_id)
            if job.status == "done":
                if job.piece_id == piece_id:
                    return
                raise CatalogConflict(f"job {job_id} is done already, with piece {job.piece_id}")
            db.execute("UPDATE jobs SET status = 'done', piece_id = ?, error = '', lease_until = NULL, updated = ? "
                       "WHERE id = ?", (piece_id, now_iso(), job_id))

    def fail(self, job_id: int, error: str, *, requeue: bool, settings: Mapping[str, Any] | None = None,
             worker: str | None = None) -> bool:
        """Record a failure; `requeue` puts it back in the queue (optionally with changed settings). With `worker`,
        only while that worker still holds the job (else nothing is written: another one runs it now, or it ended);
        returns whether it was written."""
        mine, params = (" AND worker = ? AND status = 'running'", (worker,)) if worker is not None else ("", ())
        with self._db.transaction(visible=False) as db:
            status = "queued" if requeue else "failed"
            cur = db.execute(f"UPDATE jobs SET status = ?, error = ?, worker = '', lease_until = NULL, updated = ? "
                             f"WHERE id = ?{mine}", (status, error, now_iso(), job_id, *params))
            if cur.rowcount and settings is not None:
                db.execute("UPDATE jobs SET settings = ? WHERE id = ?", (to_json(dict(settings)), job_id))
            return cur.rowcount > 0

    def release(self, job_id: int, reason: str, *, worker: str | None = None) -> bool:
        """Put a running job back in the queue untouched (its worker was asked to stop): the attempt it was on does
        not count towards the cap. With `worker`, only while that worker holds it; returns whether it was written."""
        mine, params = (" AND worker = ?", (worker,)) if worker is not None else ("", ())
        with self._db.transaction(visible=False) as db:
            return db.execute(
                "UPDATE jobs SET status = 'queued', error = ?, worker = '', lease_until = NULL, "
                "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated = ? "
                f"WHERE id = ? AND status = 'running'{mine}", (reason, now_iso(), job_id, *params)).rowcount > 0

    def requeue_running(self, worker: str | None = None) -> int:
        """Put jobs left 'running' (by `worker`, or by anyone) back in the queue, attempts kept: `dstrtd studio
        --requeue-running` when the artist knows no worker runs."""
        mine, params = (" AND worker = ?", (worker,)) if worker is not None else ("", ())
        with self._db.transaction(visible=False) as db:
            cur = db.execute(f"UPDATE jobs SET status = 'queued', worker = '', lease_until = NULL, updated = ? "
                             f"WHERE status = 'running'{mine}", (now_iso(), *params))
            return cur.rowcount

    def cancel(self, job_id: int, reason: str = "") -> None:
        """Take a queued job out of the queue for good. It is kept, as failed with the error 'cancelled[: reason]',
        so the queue's history stays whole; a running job is stopped with its worker, not here."""
        error = "cancelled" + (f": {reason.strip()}" if reason.strip() else "")
        self._update_queued(job_id, "cancelled", "UPDATE jobs SET status = 'failed', error = ?, worker = '', "
                                                 "updated = ?", (error, now_iso()))

    def set_priority(self, job_id: int, priority: int) -> None:
        """Move a queued job up (higher runs first) or down the queue."""
        self._update_queued(job_id, "reprioritised", "UPDATE jobs SET priority = ?", (int(priority),))

    def _update_queued(self, job_id: int, done: str, update: str, params: tuple[Any, ...]) -> None:
        with self._db.transaction(visible=False) as db:
            cur = db.execute(f"{update} WHERE id = ? AND status = 'queued'", (*params, job_id))
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

    def duplicates(self) -> list[str]:
        """Jobs owning more than one piece: set aside by the schema-5 migration, or (with the constraint dropped by
        hand) still in the table."""
        out = [f"job {r['job_id']} owned two pieces: piece {r['slug']} was set aside (schema 5 keeps one piece per "
               f"job); keep it or reject it with `dstrtd catalog accept|reject {r['slug']}`"
               for r in self._db.execute("SELECT d.job_id, p.slug FROM job_duplicate_pieces d "
                                         "JOIN pieces p ON p.id = d.piece_id ORDER BY d.job_id, p.id")]
        out += [f"job {r['job_id']} owns {r['n']} pieces" for r in self._db.execute(
            "SELECT job_id, COUNT(*) AS n FROM pieces WHERE job_id IS NOT NULL GROUP BY job_id HAVING COUNT(*) > 1 "
            "ORDER BY job_id")]
        return out
