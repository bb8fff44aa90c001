"""A finished piece and a busy catalog: the piece waits on disk while the worker retries, the job never fails for it,
and a piece left waiting by a stopped worker is stored by the next start (not made again)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from pgserver import catalog_locked

from curation.catalog import Catalog
from curation.studio import Studio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from worker_fakes import FakeBackend, make_worker  # noqa: E402


class LocksWhenWriting(FakeBackend):
    """Another connection takes the catalog's write lock just as the piece's files are written (before it is
    stored), and holds it until `release` is set, or for `hold_s` seconds."""

    def __init__(self, location: str | Path, hold_s: float | None) -> None:
        super().__init__()
        self.location, self.hold_s = location, hold_s
        self.locked, self.release = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None

    def write(self, folder, result):
        written = super().write(folder, result)
        self.thread = threading.Thread(target=self._hold)
        self.thread.start()
        self.locked.wait(10)
        return written

    def _hold(self) -> None:
        with catalog_locked(self.location, ready=self.locked):
            self.release.wait(self.hold_s)


@pytest.fixture()
def quick(studio: Studio):
    """The studio's catalog with a 0.1 s busy timeout, so a held lock fails a write at once (as 30 s would)."""
    with studio.catalog(timeout=0.1) as cat:
        yield cat


def test_a_busy_catalog_while_storing_never_fails_the_job(studio: Studio, quick: Catalog,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    job_id = quick.enqueue("a glacier:1", theme="glacier")
    backend = LocksWhenWriting(studio.catalog_location, hold_s=1.0)
    w, curator = make_worker(studio, quick, backend, retry=0.05)
    assert w.run() == 0
    backend.thread.join()
    job = quick.get_job(job_id)
    assert (job.status, job.attempts, job.error) == ("done", 1, "")
    assert [o.status for o in w.outcomes] == ["done"] and quick.count_pieces() == 1
    assert curator.seen == [job.piece_id]
    assert "the catalog is unavailable" in caplog.text and "the piece waits in" in caplog.text
    assert quick.check() == [] and studio.leftovers() == []  # stored, and its waiting folder gone


def test_a_piece_left_waiting_by_a_stopped_worker_is_stored_at_the_next_start(studio: Studio, quick: Catalog) -> None:
    job_id = quick.enqueue("a glacier:1", theme="glacier")
    backend = LocksWhenWriting(studio.catalog_location, hold_s=None)
    w, _ = make_worker(studio, quick, backend, retry=0.05, worker="gpu0")
    threading.Timer(0.5, w.request_stop, ("interrupted by SIGTERM",)).start()  # stopped while the lock is held
    assert w.run() == 0
    backend.release.set()
    backend.thread.join()
    assert [o.status for o in w.outcomes] == ["interrupted"] and quick.count_pieces() == 0
    (waiting,) = studio.leftovers()
    assert waiting.startswith("finished piece cache/pending/job") and "waits to be stored" in waiting
    again = FakeBackend()
    w2, curator = make_worker(studio, quick, again, worker="gpu0")
    assert w2.run() == 0
    job = quick.get_job(job_id)
    assert job.status == "done" and quick.count_pieces() == 1 and again.runs == []  # stored, not made again
    assert quick.get_piece(job.piece_id).settings["worker"] == "gpu0"
    assert studio.leftovers() == [] and quick.check() == []
