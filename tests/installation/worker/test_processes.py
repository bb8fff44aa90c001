"""The studio worker as a process: SIGTERM exits cleanly, kill -9 loses nothing, two workers share one queue."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from curation.catalog import Catalog
from installation.worker import StudioWorker, WorkerOptions

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
from worker_fakes import AcceptAll, FakeBackend, start_worker_process  # noqa: E402


def start_worker(studio, name: str, steps: int, step_s: float) -> subprocess.Popen:
    return start_worker_process(studio, step_s, idle_exit=True, worker=name or None,
                                overrides={"size": [32, 32], "steps": steps})


def wait_running(cat: Catalog, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(j.status == "running" for j in cat.list_jobs()):
            time.sleep(0.3)  # into the steps
            return
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)
    raise AssertionError("the worker never claimed the job")


@contextlib.contextmanager
def mid_piece(studio, cat: Catalog) -> Iterator[subprocess.Popen]:
    """A worker process into the steps of a long piece; killed on the way out if the test left it running."""
    proc = start_worker(studio, "", steps=100_000, step_s=0.01)
    try:
        wait_running(cat, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_sigterm_requeues_the_job_and_exits_zero(studio) -> None:
    with studio.catalog() as cat:
        job_id = cat.enqueue("a glacier:1", theme="glacier")
        with mid_piece(studio, cat) as proc:
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert time.monotonic() - sent < 5
        assert "SIGTERM: finishing the current step" in err
        job = cat.get_job(job_id)
        assert (job.status, job.error, job.worker) == ("queued", "interrupted by SIGTERM; requeued", "")
        assert cat.count_pieces() == 0 and cat.check() == []


def test_kill_9_then_restart_finishes_the_job(studio) -> None:
    with studio.catalog() as cat:
        job_id = cat.enqueue("a glacier:1", theme="glacier")
        with mid_piece(studio, cat) as proc:
            proc.kill()
            proc.wait(10)
        assert cat.get_job(job_id).status == "running"  # left behind by the dead process
        w = StudioWorker(studio, WorkerOptions(preset="tiny", idle_exit=True, sample=False,
                                               overrides={"size": [32, 32], "steps": 2}),
                         backend=FakeBackend(), curator=AcceptAll(cat), catalog=cat)
        assert w.run() == 0  # requeues the dead worker's job at start, then runs it
        job = cat.get_job(job_id)
        assert (job.status, job.attempts) == ("done", 2)
        assert cat.check() == [] and cat.count_pieces() == 1


def test_two_workers_never_take_the_same_job(studio) -> None:
    with studio.catalog() as cat:
        ids = [cat.enqueue(f"piece {i}:1", theme="wetland") for i in range(12)]
        procs = [start_worker(studio, f"gpu{i}", steps=2, step_s=0.02) for i in range(2)]
        errs = []
        for p in procs:
            _, err = p.communicate(timeout=60)
            errs.append(err)
            assert p.returncode == 0, err
        jobs = cat.list_jobs()
        assert [j.id for j in jobs] == ids
        assert {j.status for j in jobs} == {"done"} and {j.attempts for j in jobs} == {1}
        assert len({j.piece_id for j in jobs}) == 12 == cat.count_pieces()
        assert {p.job_id for p in cat.list_pieces()} == set(ids)
        assert {j.worker for j in jobs} <= {"gpu0", "gpu1"}
        assert cat.check() == []
