"""`Catalog`: one studio's catalog behind one object, the way every caller reaches it.

Each method hands its work to the part that owns it (see the package docstring for which file is which); callers
never reach those parts themselves. The job queue and the piece store are typed by their interfaces (`JobQueue`,
`PieceStore`), so another backend plugs in here without touching a caller.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from curation.catalog.database import Connection, Database, is_url, open_database
from curation.catalog.display_commands import SqlDisplayCommands
from curation.catalog.jobs import LEASE_S, MAX_ATTEMPTS, Accept, JobQueue, SqlJobQueue
from curation.catalog.pieces import PieceFiles, PieceStore, SqlPieceStore
from curation.catalog.publication import SqlPublication
from curation.catalog.records import CatalogError, Decision, Job, Piece, Score, Theme, WorkerInfo
from curation.catalog.scores import SqlScores
from curation.catalog.themes import SqlThemes
from curation.catalog.workers import SqlWorkers


class Catalog:
    """One studio's catalog. Open with `Catalog(location)`, a SQLite file's path (the default, WAL) or a
    `postgresql://` URL; use as a context manager or call `close()`. `root` is the studio folder the pieces' files
    are named from (by default the SQLite file's folder).

    Connections are per instance and not shared between threads; each worker process opens its own.
    """

    def __init__(self, location: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                 readonly: bool = False, timeout: float = 30.0, database: Database | None = None) -> None:
        if root is None and is_url(location):
            raise CatalogError("a catalog on a database server needs the studio folder its pieces are kept in (root)")
        # `database`: a connection opened by the caller (a pool's), else one of its own
        self._db = database or open_database(location, readonly=readonly, timeout=timeout)
        self.location = location
        self.path: Path | None = None if is_url(location) else Path(location)  # the SQLite file
        self.root = Path(root) if root is not None else Path(location).parent
        self.readonly = readonly
        self.timeout = timeout
        self._themes = SqlThemes(self._db)
        self._jobs: JobQueue = SqlJobQueue(self._db, self._themes)
        self._pieces: PieceStore = SqlPieceStore(self._db, self._themes, self.root)
        self._scores = SqlScores(self._db)
        self._publication = SqlPublication(self._db)
        self._commands = SqlDisplayCommands(self._db)
        self._workers = SqlWorkers(self._db)

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._db.kind

    def reopen(self, *, timeout: float | None = None) -> Catalog:
        """A second, independent connection to the same catalog (another thread's, e.g. a worker's heartbeat)."""
        return Catalog(self.location, root=self.root, readonly=self.readonly,
                       timeout=self.timeout if timeout is None else timeout)

    # -- plumbing (database.py) ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self, *, visible: bool = True) -> Iterator[Connection]:
        """A raw write transaction (`?` placeholders); `visible` moves the gallery's revision (see `Database`)."""
        with self._db.transaction(visible=visible) as db:
            yield db

    def schema_version(self) -> int:
        return self._db.schema_version()

    def revision(self) -> int:
        """Grows with every write the gallery shows (pieces, themes, scores, decisions, clusters), and only then."""
        return self._db.revision()

    def abspath(self, relative: str) -> Path:
        """The absolute path of a file named relative to the studio root; refuses paths that leave the studio. A
        piece's file that this machine lacks is fetched from a shared (PostgreSQL) catalog first."""
        root = self.root.resolve()
        path = (self.root / relative).resolve()
        if not path.is_relative_to(root):
            raise CatalogError(f"path {relative!r} leaves the studio {self.root}")
        self._pieces.ensure_local(path.relative_to(root).as_posix())
        return path

    def check(self) -> list[str]:
        """Consistency problems: the database's own integrity, jobs that owned two pieces, pieces whose file is
        missing or whose checksum differs, piece folders with no catalog row, temporary folders of killed writers."""
        return self._db.integrity_problems() + self._jobs.duplicates() + self._pieces.check()

    # -- themes (themes.py) -------------------------------------------------------------------------------------

    def upsert_theme(self, theme: Theme) -> None:
        self._themes.upsert(theme)

    def get_theme(self, name: str) -> Theme | None:
        return self._themes.get(name)

    def list_themes(self) -> list[Theme]:
        return self._themes.all()

    def require_theme(self, name: str) -> Theme:
        """The theme called `name`; `CatalogError` listing the known ones when there is none."""
        self._themes.require(name)
        return self._themes.get(name)  # type: ignore[return-value]

    # -- the job queue (jobs.py) --------------------------------------------------------------------------------

    def enqueue(self, prompt: str, *, theme: str | None = None, settings: Mapping[str, Any] | None = None,
                priority: int = 0) -> int:
        return self._jobs.enqueue(prompt, theme=theme, settings=settings, priority=priority)

    def claim_job(self, worker: str | None = None, *, lease: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS,
                  accept: Accept | None = None) -> Job | None:
        return self._jobs.claim(worker, lease=lease, max_attempts=max_attempts, accept=accept)

    def claim_jobs(self, worker: str | None, n: int, *, lease: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS,
                   accept: Accept | None = None) -> list[Job]:
        return self._jobs.claim_many(worker, n, lease=lease, max_attempts=max_attempts, accept=accept)

    def renew_job(self, job_id: int, worker: str) -> bool:
        return self._jobs.renew(job_id, worker)

    def reap_jobs(self, max_attempts: int = MAX_ATTEMPTS, *, worker: str | None = None) -> int:
        return self._jobs.reap(max_attempts, worker=worker)

    def set_job_progress(self, job_id: int, step: int, steps: int, loss: float | None, *, worker: str | None = None
                         ) -> bool:
        return self._jobs.set_progress(job_id, step, steps, loss, worker=worker)

    def finish_job(self, job_id: int, piece_id: int | None) -> None:
        self._jobs.finish(job_id, piece_id)

    def release_job(self, job_id: int, reason: str, *, worker: str | None = None) -> bool:
        return self._jobs.release(job_id, reason, worker=worker)

    def store_piece(self, job_id: int, files: PieceFiles, *, prompt: str, theme: str | None = None,
                    seed: int | None = None, settings: Mapping[str, Any] | None = None, image_name: str = "image.png"
                    ) -> tuple[Piece, bool]:
        """Store the piece a job made and finish the job, in one transaction: both happen or neither does, whatever
        crashes where. A job that is done already (another worker finished it after this one's lease expired) keeps
        its piece: returns (that piece, False) and stores nothing; else (the new piece, True)."""
        with self._db.transaction(visible=False):
            job = self._jobs.lock(job_id)
            if job.status == "done" and job.piece_id is not None:
                existing = self._pieces.get(job.piece_id)
                if existing is not None:
                    return existing, False
            piece = self._pieces.add(files, prompt=prompt, theme=theme, seed=seed, settings=settings, job_id=job_id,
                                     image_name=image_name)
            self._jobs.finish(job_id, piece.id)
        return piece, True

    def fail_job(self, job_id: int, error: str, *, requeue: bool, settings: Mapping[str, Any] | None = None,
                 worker: str | None = None) -> bool:
        return self._jobs.fail(job_id, error, requeue=requeue, settings=settings, worker=worker)

    def requeue_running(self, worker: str | None = None) -> int:
        return self._jobs.requeue_running(worker)

    def cancel_job(self, job_id: int, reason: str = "") -> None:
        self._jobs.cancel(job_id, reason)

    def set_job_priority(self, job_id: int, priority: int) -> None:
        self._jobs.set_priority(job_id, priority)

    def get_job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def list_jobs(self, status: str | None = None, *, limit: int | None = None, newest_first: bool = False
                  ) -> list[Job]:
        return self._jobs.find(status, limit=limit, newest_first=newest_first)

    # -- the workers (workers.py) -------------------------------------------------------------------------------

    def register_worker(self, name: str, *, host: str, pid: int, device: str, capabilities: Mapping[str, Any]
                        ) -> None:
        self._workers.register(name, host=host, pid=pid, device=device, capabilities=capabilities)

    def heartbeat(self, worker: str, job_id: int | None) -> bool:
        """Worker `worker` is alive and runs `job_id`: its row and its lease on that job are renewed. False when the
        job is no longer its own (its lease expired and another took it, or it ended)."""
        self._workers.beat(worker, job_id)
        return job_id is None or self._jobs.renew(job_id, worker)

    def worker_stopped(self, worker: str) -> None:
        self._workers.stopped(worker)

    def list_workers(self) -> list[WorkerInfo]:
        return self._workers.all()

    # -- the piece store (pieces.py) ----------------------------------------------------------------------------

    def add_piece(self, files: PieceFiles, *, prompt: str, theme: str | None = None, seed: int | None = None,
                  settings: Mapping[str, Any] | None = None, title: str = "", status: str = "generated",
                  job_id: int | None = None, image_name: str = "image.png") -> Piece:
        return self._pieces.add(files, prompt=prompt, theme=theme, seed=seed, settings=settings, title=title,
                                status=status, job_id=job_id, image_name=image_name)

    def get_piece(self, piece_id: int) -> Piece | None:
        return self._pieces.get(piece_id)

    def get_piece_by_slug(self, slug: str) -> Piece | None:
        return self._pieces.get_by_slug(slug)

    def list_pieces(self, status: str | Sequence[str] | None = None, *, theme: str | None = None,
                    limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[Piece]:
        return self._pieces.find(status, theme=theme, limit=limit, offset=offset, newest_first=newest_first)

    def count_pieces(self, status: str | Sequence[str] | None = None) -> int:
        return self._pieces.count(status)

    def set_status(self, piece_id: int, status: str) -> None:
        self._pieces.set_status(piece_id, status)

    def set_title(self, piece_id: int, title: str) -> None:
        self._pieces.set_title(piece_id, title)

    def set_reflection(self, piece_id: int, text: str) -> None:
        self._pieces.set_reflection(piece_id, text)

    def remove_orphans(self, older_than_s: float = 3600.0) -> list[Path]:
        return self._pieces.remove_orphans(older_than_s)

    # -- scores, decisions, clusters (scores.py) ----------------------------------------------------------------

    def add_score(self, piece_id: int, curator: str, value: float, *, version: str = "",
                  details: Mapping[str, Any] | None = None) -> None:
        self._scores.add_score(piece_id, curator, value, version=version, details=details)

    def scores(self, piece_id: int) -> list[Score]:
        return self._scores.scores(piece_id)

    def decide(self, piece_id: int, decision: str, reasons: Sequence[str]) -> None:
        self._scores.decide(piece_id, decision, reasons)

    def decisions(self, piece_id: int) -> list[Decision]:
        return self._scores.decisions(piece_id)

    def set_clusters(self, run: str, labels: Mapping[int, int], distances: Mapping[int, float] | None = None) -> None:
        self._scores.set_clusters(run, labels, distances)

    def clusters(self, run: str | None = None) -> dict[int, int]:
        return self._scores.clusters(run)

    # -- exports and engagement (publication.py) ----------------------------------------------------------------

    def add_export(self, piece_id: int, kind: str, path: str = "", *, external_id: str = "",
                   details: Mapping[str, Any] | None = None) -> int:
        return self._publication.add_export(piece_id, kind, path, external_id=external_id, details=details)

    def exports(self, piece_id: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return self._publication.exports(piece_id, kind)

    def add_engagement(self, piece_id: int, platform: str, external_id: str, *, likes: int, comments: int,
                       details: Mapping[str, Any] | None = None, fetched: str | None = None) -> None:
        self._publication.add_engagement(piece_id, platform, external_id, likes=likes, comments=comments,
                                         details=details, fetched=fetched)

    def engagement(self, piece_id: int) -> list[dict[str, Any]]:
        return self._publication.engagement(piece_id)

    # -- the control channel, web -> display (display_commands.py) ----------------------------------------------

    def post_command(self, target: str, command: str, args: Mapping[str, Any] | None = None) -> int:
        return self._commands.post(target, command, args)

    def take_commands(self, target: str) -> list[tuple[str, dict[str, Any]]]:
        return self._commands.take(target)
