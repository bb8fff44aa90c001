"""A finished piece on its way into the catalog, kept on disk until it is there.

The worker writes a finished piece's files into `STUDIO/cache/pending/<job>-<attempt>-<id>/` with `piece.json`
(what the catalog row needs) before it stores anything. Storing the piece and finishing its job is one transaction
(`Catalog.store_piece`); while the catalog is busy (SQLite's lock held by another process) or unreachable (the
PostgreSQL server down), the worker waits and tries again, doubling the wait up to a minute, and the files stay. A
worker stopped or killed meanwhile leaves the folder, and the next worker started on this studio stores it first:
a busy catalog never fails a job, and a finished image is never thrown away for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.catalog import Catalog, CatalogError, CatalogUnavailable, Piece
from generator.common.files import move_dir, write_json_atomic

log = logging.getLogger(__name__)

PIECE_JSON = "piece.json"
BACKOFF_MAX_S = 60.0


@dataclass(frozen=True)
class Pending:
    """A finished piece waiting in its folder: `files` maps names in the piece's folder to paths in `folder`."""

    folder: Path
    job_id: int
    prompt: str
    theme: str | None
    seed: int | None
    settings: dict[str, Any]
    files: dict[str, str]

    @classmethod
    def read(cls, folder: Path) -> Pending:
        data = json.loads((folder / PIECE_JSON).read_text(encoding="utf-8"))
        return cls(folder=folder, job_id=int(data["job_id"]), prompt=data["prompt"], theme=data["theme"],
                   seed=data["seed"], settings=data["settings"], files=dict(data["files"]))


def keep(tmp: Path, pending_dir: Path, *, job_id: int, attempt: int, prompt: str, theme: str | None,
         seed: int | None, settings: dict[str, Any], written: Sequence[Path]) -> Pending:
    """Turn the folder `tmp`, where a piece's files were `written` (paths in it, or relative to it), into a pending
    piece (renamed at once, so a pending folder is always whole). Files in subfolders keep their path as their name,
    '/' as '-'."""
    files: dict[str, str] = {}
    for path in (p if p.is_absolute() else tmp / p for p in written):
        if path.is_file():
            relative = path.relative_to(tmp).as_posix()
            files[relative.replace("/", "-")] = relative
    write_json_atomic(tmp / PIECE_JSON, {"job_id": job_id, "prompt": prompt, "theme": theme, "seed": seed,
                                         "settings": settings, "files": files})
    pending_dir.mkdir(parents=True, exist_ok=True)
    folder = pending_dir / f"job{job_id}-{attempt}-{uuid.uuid4().hex[:8]}"
    move_dir(tmp, folder)
    return Pending.read(folder)


def waiting(pending_dir: Path) -> list[Path]:
    """The pending folders, oldest first."""
    if not pending_dir.is_dir():
        return []
    return sorted((p for p in pending_dir.iterdir() if p.is_dir() and (p / PIECE_JSON).is_file()),
                  key=lambda p: p.stat().st_mtime)


def store(catalog: Catalog, pending: Pending, stop: threading.Event, retry_s: float) -> tuple[Piece, bool] | None:
    """Store `pending` and finish its job, waiting out a busy or unreachable catalog; then remove the folder.

    Returns (piece, True) when stored, (the job's existing piece, False) when another worker had finished the job
    (this run's files are dropped), or None when `stop` was set while the catalog was unavailable (the folder stays
    for the next start). Other errors (a CatalogError, a file gone) leave as they are, the folder removed.
    """
    files = {name: pending.folder / rel for name, rel in pending.files.items()}
    delay = retry_s
    while True:
        try:
            stored = catalog.store_piece(pending.job_id, files, prompt=pending.prompt, theme=pending.theme,
                                         seed=pending.seed, settings=pending.settings)
        except CatalogUnavailable as exc:
            if stop.is_set():
                log.warning("job %d: the catalog is unavailable (%s) and the worker is stopping; the piece waits in "
                            "%s and is stored at the next start", pending.job_id, exc, pending.folder)
                return None
            log.warning("job %d: the catalog is unavailable (%s); the piece waits in %s, trying again in %.0f s",
                        pending.job_id, exc, pending.folder, delay)
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            continue
        except (CatalogError, OSError):
            discard(pending.folder)
            raise
        discard(pending.folder)
        return stored


def store_waiting(catalog: Catalog, pending_dir: Path, stop: threading.Event, retry_s: float
                  ) -> list[tuple[int, Piece]]:
    """Store the finished pieces a stopped or killed worker left waiting, oldest first (before anything new is
    made); returns (job id, piece) of those stored."""
    done = []
    for folder in waiting(pending_dir):
        if stop.is_set():
            break
        try:
            pending = Pending.read(folder)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s is not a piece waiting to be stored (%s); left as it is", folder, exc)
            continue
        log.info("job %d: storing the piece left waiting in %s", pending.job_id, folder)
        try:
            stored = store(catalog, pending, stop, retry_s)
        except Exception as exc:
            log.error("job %d: the piece left waiting could not be stored (%s: %s)", pending.job_id,
                      type(exc).__name__, exc)
            continue
        if stored is not None and stored[1]:
            done.append((pending.job_id, stored[0]))
    return done


def remove_old(tmp_dir: Path, max_age_s: float) -> None:
    """Remove the folders in `tmp_dir` older than `max_age_s`: left by a worker killed while it wrote a piece."""
    if not tmp_dir.is_dir():
        return
    cutoff = time.time() - max_age_s
    for p in tmp_dir.iterdir():
        with contextlib.suppress(OSError):
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)


def discard(folder: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(folder)
