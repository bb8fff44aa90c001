"""Workers that die, as processes: a kill between storing a piece and finishing its job leaves one piece, and a dead
worker's job comes back to another machine's worker when its lease runs out, never while its heartbeat beats."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from curation.studio import Studio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from worker_fakes import start_worker_process as start  # noqa: E402


def test_a_kill_between_storing_a_piece_and_finishing_its_job_leaves_one_piece(studio: Studio) -> None:
    with studio.catalog() as cat:
        job_id = cat.enqueue("a glacier:1", theme="glacier")
        proc = start(studio, fault="kill-in-finish", idle_exit=True, overrides={"size": [32, 32], "steps": 2})
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == -9, err
        assert cat.count_pieces() == 0 and cat.get_job(job_id).status == "running"  # nothing half-done
        restart = start(studio, idle_exit=True, overrides={"size": [32, 32], "steps": 2})
        _, err = restart.communicate(timeout=60)
        assert restart.returncode == 0, err
        job = cat.get_job(job_id)
        assert job.status == "done" and cat.count_pieces() == 1 and cat.get_piece(job.piece_id).job_id == job_id
        assert "storing the piece left waiting" in err and "step 1/2" not in err  # stored, not made again
        # what the kill can leave: the folder renamed into place before the rollback, reported and set aside
        assert all("has no catalog row" in p for p in cat.check())
        cat.remove_orphans(older_than_s=0)
        assert cat.check() == [] and studio.leftovers() == []


def test_a_dead_workers_job_comes_back_to_another_machine_when_its_lease_runs_out(studio: Studio) -> None:
    with studio.catalog() as cat:
        job_id = cat.enqueue("a glacier:1", theme="glacier")
        # names of other machines: no pid to look up, only the lease tells that a worker died
        a = start(studio, step_s=0.01, worker="machine-a:1", lease=2.0, overrides={"size": [32, 32], "steps": 100_000})
        b = None
        try:
            deadline = time.monotonic() + 60
            while cat.get_job(job_id).status != "running":
                assert a.poll() is None and time.monotonic() < deadline, a.communicate()[1]
                time.sleep(0.05)
            b = start(studio, worker="machine-b:1", lease=2.0, max_jobs=1, poll=0.1,
                      overrides={"size": [32, 32], "steps": 2})
            while len(cat.list_workers()) < 2:  # machine-b is up and looking for work
                assert b.poll() is None and time.monotonic() < deadline, b.communicate()[1]
                time.sleep(0.05)
            time.sleep(4)  # two lease lengths: machine-a's heartbeat keeps its job
            job = cat.get_job(job_id)
            assert (job.status, job.worker, job.attempts) == ("running", "machine-a:1", 1)
            assert {w.name: w.job_id for w in cat.list_workers()} == {"machine-a:1": job_id, "machine-b:1": None}
            a.kill()
            a.wait(10)
            _, err = b.communicate(timeout=60)
            assert b.returncode == 0, err
        finally:
            for p in (a, b):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait(10)
        job = cat.get_job(job_id)
        assert (job.status, job.worker, job.attempts) == ("done", "machine-b:1", 2)
        assert cat.count_pieces() == 1 and cat.check() == []
        workers = {w.name: w for w in cat.list_workers()}
        assert workers["machine-b:1"].stopped and not workers["machine-a:1"].stopped  # a died without a word
