"""Jobs across workers that die: a lease per claim renewed by a heartbeat, expired leases returned to the queue by any
worker, the attempts cap, a job's piece and its end in one transaction, one piece per job, and the workers' list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from curation.catalog import Catalog, CatalogConflict, CatalogError


def expire(cat: Catalog, job_id: int) -> None:
    """The lease of `job_id` runs out now (as it would a lease-length after its worker died)."""
    with cat.transaction(visible=False) as db:
        db.execute("UPDATE jobs SET lease_until = 0 WHERE id = ?", (job_id,))


def test_a_claim_holds_a_lease_that_heartbeats_renew(cat: Catalog) -> None:
    job_id = cat.enqueue("a reef:1")
    job = cat.claim_job("host-a:1", lease=60)
    assert job.lease_until is not None and job.attempts == 1
    expire(cat, job_id)
    assert cat.heartbeat("host-a:1", job_id)  # renewed by its holder: a lease length from now again
    renewed = cat.get_job(job_id).lease_until
    assert renewed > 1e9 and renewed >= job.lease_until - 1
    assert cat.claim_job("host-b:2") is None  # a renewed lease is not taken
    assert not cat.heartbeat("host-b:2", job_id)  # nor renewed by another worker
    assert cat.set_job_progress(job_id, 1, 10, 0.5, worker="host-a:1")
    assert not cat.set_job_progress(job_id, 2, 10, 0.5, worker="host-b:2")


def test_an_expired_lease_returns_the_job_to_any_worker(cat: Catalog) -> None:
    job_id = cat.enqueue("a reef:1")
    cat.claim_job("host-a:1")
    expire(cat, job_id)  # host-a died: nothing renews its lease, and no one on host-b can see its pid
    job = cat.claim_job("host-b:2")
    assert (job.id, job.worker, job.attempts) == (job_id, "host-b:2", 2)
    assert "attempt 1 ended without a result: its worker host-a:1 stopped renewing its lease; requeued" == job.error
    assert not cat.heartbeat("host-a:1", job_id)  # host-a, back from a stall, learns the job is no longer its own
    assert not cat.fail_job(job_id, "late failure", requeue=True, worker="host-a:1")  # and cannot touch it
    assert cat.get_job(job_id).worker == "host-b:2"


def test_a_job_that_keeps_dying_fails_at_the_attempts_cap_with_the_reason(cat: Catalog) -> None:
    job_id = cat.enqueue("a reef:1")
    for attempt in range(1, 4):
        assert cat.claim_job(f"w{attempt}", max_attempts=3).attempts == attempt
        expire(cat, job_id)
    assert cat.claim_job("w4", max_attempts=3) is None
    job = cat.get_job(job_id)
    assert job.status == "failed" and job.attempts == 3
    assert job.error == ("gave up after 3 attempts (the cap is 3); the last: attempt 3 ended without a result: its "
                         "worker w3 stopped renewing its lease")
    again = cat.enqueue("a glacier:1")  # requeued by its worker at the cap (NaN, OOM): failed at the next claim
    cat.claim_job("w1", max_attempts=1)
    cat.fail_job(again, "non-finite loss", requeue=True)
    assert cat.claim_job("w1", max_attempts=1) is None
    assert cat.get_job(again).error == "gave up after 1 attempts (the cap is 1); the last: non-finite loss"
    with pytest.raises(CatalogError, match="lease > 0, max_attempts >= 1"):
        cat.claim_job("w1", max_attempts=0)


def test_dead_workers_are_reaped_by_name_and_a_stop_gives_the_attempt_back(cat: Catalog) -> None:
    first, second = cat.enqueue("one:1"), cat.enqueue("two:1")
    cat.claim_job("gpu0:7")
    cat.claim_job("gpu1:8")
    assert cat.reap_jobs(5, worker="gpu0:7") == 1  # known dead: back at once, lease or not
    assert cat.get_job(first).status == "queued" and cat.get_job(second).status == "running"
    assert cat.release_job(second, "interrupted by SIGTERM; requeued", worker="gpu1:8")
    job = cat.get_job(second)
    assert (job.status, job.attempts, job.error) == ("queued", 0, "interrupted by SIGTERM; requeued")
    assert cat.claim_jobs("gpu2:9", 5) and cat.list_jobs("queued") == []  # several at once, for batching


def test_claims_skip_jobs_the_worker_cannot_run(cat: Catalog) -> None:
    big = cat.enqueue("big:1", settings={"size": [2048, 2048]}, priority=5)
    small = cat.enqueue("small:1", settings={"size": [256, 256]})
    fits = lambda job: job.settings["size"][0] <= 512  # noqa: E731
    assert cat.claim_job("small-gpu:1", accept=fits).id == small
    assert cat.claim_job("small-gpu:1", accept=fits) is None
    assert cat.get_job(big).status == "queued" and cat.claim_job("big-gpu:1").id == big


def test_a_piece_and_its_job_end_in_one_transaction(cat: Catalog, png: Callable[..., Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = cat.enqueue("a reef:1", theme="coral-reef")
    cat.claim_job("w1")
    before = cat.revision()

    def killed_before_the_finish(*args: object) -> None:  # a worker dying between storing and finishing
        raise KeyboardInterrupt

    monkeypatch.setattr(cat._jobs, "finish", killed_before_the_finish)
    with pytest.raises(KeyboardInterrupt):
        cat.store_piece(job_id, {"image.png": png()}, prompt="a reef:1", theme="coral-reef")
    assert cat.count_pieces() == 0 and cat.get_job(job_id).status == "running" and cat.revision() == before
    assert [p.name for p in (cat.root / "pieces").iterdir()] == []  # no folder either
    monkeypatch.undo()
    piece, created = cat.store_piece(job_id, {"image.png": png()}, prompt="a reef:1", theme="coral-reef")
    job = cat.get_job(job_id)
    assert created and (job.status, job.piece_id, piece.job_id) == ("done", piece.id, job_id)
    assert cat.revision() == before + 1


def test_a_job_never_owns_two_pieces(cat: Catalog, png: Callable[..., Path]) -> None:
    job_id = cat.enqueue("a reef:1")
    cat.claim_job("w1")
    first, created = cat.store_piece(job_id, {"image.png": png()}, prompt="a reef:1")
    # a second worker (the first's lease had expired) finishes the same job: it keeps its one piece
    again, created_again = cat.store_piece(job_id, {"image.png": png("b.png", color=(7, 7, 7))}, prompt="a reef:1")
    assert created and not created_again and again.id == first.id and cat.count_pieces() == 1
    cat.finish_job(job_id, first.id)  # finishing again is harmless
    with pytest.raises(CatalogConflict, match=f"job {job_id} is done already, with piece {first.id}"):
        cat.finish_job(job_id, first.id + 1)
    with pytest.raises(CatalogConflict, match="UNIQUE|unique|duplicate"):  # the constraint, not a convention
        cat.add_piece({"image.png": png("c.png", color=(5, 5, 5))}, prompt="a reef:1", job_id=job_id)
    assert cat.count_pieces() == 1 and cat.check() == []


def test_workers_say_who_they_are_and_what_they_run(cat: Catalog) -> None:
    cat.register_worker("gpu-box:12", host="gpu-box", pid=12, device="cuda:0",
                        capabilities={"memory_mb": 24576, "models": ["tiny"]})
    job_id = cat.enqueue("a reef:1")
    cat.claim_job("gpu-box:12")
    (worker,) = cat.list_workers()
    assert (worker.host, worker.device, worker.job_id, worker.stopped) == ("gpu-box", "cuda:0", job_id, "")
    assert worker.capabilities["memory_mb"] == 24576 and 0 <= worker.seen_s < 60
    assert cat.heartbeat("gpu-box:12", None)
    assert cat.list_workers()[0].job_id is None
    cat.worker_stopped("gpu-box:12")
    assert cat.list_workers()[0].stopped


def test_check_lists_the_temporary_folders_of_killed_writers_with_their_age(cat: Catalog) -> None:
    import os
    import time

    left = cat.root / "pieces" / ".tmp-0123abcd"
    left.mkdir(parents=True)
    two_hours_ago = time.time() - 2 * 3600 - 30
    os.utime(left, (two_hours_ago, two_hours_ago))
    (problem,) = cat.check()
    assert problem.startswith("temporary folder pieces/.tmp-0123abcd (a piece being written), 2 h 0 min old")
    assert cat.remove_orphans() == [left] and cat.check() == []
