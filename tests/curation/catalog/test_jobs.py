"""The job queue: claims in priority order, failures and requeues, progress, cancel and priority, and two processes
claiming from one queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pgserver import catalog_locked

from curation.catalog import Catalog, CatalogError, CatalogUnavailable

REPO = Path(__file__).resolve().parents[3]


def test_jobs_claim_finish_fail_requeue(cat: Catalog) -> None:
    with pytest.raises(CatalogError, match="needs a prompt"):
        cat.enqueue("  ")
    with pytest.raises(CatalogError, match="unknown theme 'nope'; known themes: coral-reef"):
        cat.enqueue("x:1", theme="nope")
    low = cat.enqueue("low:1", priority=-1)
    first = cat.enqueue("first:1", theme="coral-reef", settings={"steps": 5})
    second = cat.enqueue("second:1")
    job = cat.claim_job("w1")
    assert (job.id, job.status, job.worker, job.attempts, job.settings) == (first, "running", "w1", 1, {"steps": 5})
    cat.fail_job(first, "NaN", requeue=True, settings={"steps": 5, "seed": 9})
    again = cat.claim_job("w2")
    assert (again.id, again.attempts, again.settings["seed"], again.error) == (first, 2, 9, "NaN")
    cat.finish_job(first, None)
    assert cat.get_job(first).status == "done" and cat.get_job(first).error == ""
    assert cat.claim_job("w1").id == second
    assert cat.claim_job("w2").id == low  # lowest priority last
    assert cat.claim_job("w1") is None
    assert cat.requeue_running("w2") == 1 and cat.get_job(low).status == "queued"
    cat.fail_job(second, "bad weights", requeue=False)
    assert cat.get_job(second).status == "failed"
    assert [j.id for j in cat.list_jobs("queued")] == [low]
    assert cat.requeue_running() == 0


def test_a_queued_job_can_be_cancelled_or_moved_up(cat: Catalog) -> None:
    first, second, third = (cat.enqueue(f"job {i}:1") for i in range(3))
    cat.set_job_priority(third, 5)
    cat.cancel_job(second, " the artist changed her mind ")
    assert cat.claim_job("w1").id == third  # moved to the front
    job = cat.get_job(second)
    assert (job.status, job.error, job.attempts) == ("failed", "cancelled: the artist changed her mind", 0)
    assert cat.claim_job("w1").id == first and cat.claim_job("w1") is None  # a cancelled job is never claimed
    cat.enqueue("later:1")
    cat.cancel_job(cat.list_jobs("queued")[0].id)
    assert cat.list_jobs("failed")[-1].error == "cancelled"
    with pytest.raises(CatalogError, match=f"job {third} is running; only a queued job can be cancelled"):
        cat.cancel_job(third)
    with pytest.raises(CatalogError, match=f"job {second} is failed; only a queued job can be reprioritised"):
        cat.set_job_priority(second, 1)
    with pytest.raises(CatalogError, match="no job with id 999; see `dstrtd catalog jobs`"):
        cat.cancel_job(999)
    assert cat.get_job(third).status == "running"  # refusals change nothing


def test_job_progress_is_recorded_and_bounded(cat: Catalog) -> None:
    job_id = cat.enqueue("a coral reef:1", theme="coral-reef")
    assert not cat.set_job_progress(job_id, 1, 10, 0.5)  # queued: nothing to record
    job = cat.claim_job("w1")
    started = job.updated
    for step in (1, 4, 10):
        assert cat.set_job_progress(job_id, step, 10, 1.0 / step)
    job = cat.get_job(job_id)
    assert (job.step, job.steps, job.loss, job.fraction, job.updated) == (10, 10, 0.1, 1.0, started)
    assert cat.set_job_progress(job_id, 3, 10, float("nan")) and cat.get_job(job_id).loss is None
    raw = cat._db.execute("SELECT progress FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    assert json.loads(raw)["loss"] is None and "NaN" not in raw  # stays strict JSON
    for step, steps in ((11, 10), (-1, 10), (0, 0)):
        with pytest.raises(CatalogError, match="progress is step 0..steps"):
            cat.set_job_progress(job_id, step, steps, 0.1)
    cat.fail_job(job_id, "NaN", requeue=False)
    assert cat.get_job(job_id).step == 3  # a failed job keeps where it stopped
    assert not cat.set_job_progress(job_id, 4, 10, 0.1)
    if cat.backend == "sqlite":
        assert cat._db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000  # the short wait was put back
    else:
        assert cat._db.execute("SHOW lock_timeout").fetchone()[0] == "30s"
    cat.fail_job(job_id, "retry", requeue=True)  # (a requeue of a failed job, as `fail_job` allows)
    assert cat.claim_job("w2").step == 0  # a new attempt starts without the old attempt's progress
    assert [j.id for j in cat.list_jobs("running", limit=1, newest_first=True)] == [job_id]
    with Catalog(cat.location, root=cat.root, readonly=True) as ro, pytest.raises(CatalogError, match="read-only"):
        ro.set_job_progress(job_id, 1, 10, 0.1)


def test_a_locked_catalog_fails_a_progress_write_quickly(cat: Catalog) -> None:
    job_id = cat.enqueue("a coral reef:1")
    cat.claim_job("w1")
    with catalog_locked(cat.location):  # another writer holds the lock
        t0 = time.monotonic()
        with pytest.raises(CatalogUnavailable, match="locked|lock timeout"):
            cat.set_job_progress(job_id, 1, 10, 0.5)
        assert time.monotonic() - t0 < 5  # not the 30 s of a real write


_CLAIMER = textwrap.dedent("""
    import sys
    from curation.catalog import Catalog
    cat = Catalog(sys.argv[1], root=sys.argv[3], timeout=60)
    taken = []
    while (job := cat.claim_job(sys.argv[2])) is not None:
        taken.append(job.id)
        cat.finish_job(job.id, None)
    print(" ".join(map(str, taken)))
""")


def test_two_processes_never_claim_the_same_job(tmp_path: Path, location: str | Path) -> None:
    db = location
    with Catalog(db, root=tmp_path) as cat:
        ids = [cat.enqueue(f"job {i}:1") for i in range(60)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, str(db), f"w{i}", str(tmp_path)], stdout=subprocess.PIPE,
                              text=True, env=env, cwd=REPO) for i in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    taken = [[int(x) for x in out.split()] for out in outs]
    assert sorted(taken[0] + taken[1]) == ids  # every job once, none twice
    with Catalog(db, root=tmp_path) as cat:
        jobs = cat.list_jobs()
        assert {j.status for j in jobs} == {"done"} and {j.attempts for j in jobs} == {1}
        assert json.dumps(sorted(j.worker for j in jobs)).count("w") == 60
