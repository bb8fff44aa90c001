"""What the worker does when a job goes wrong: NaN restarts, out-of-memory retries, unloadable weights, bad settings,
and the jobs of workers that died."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import torch

from curation.catalog import Catalog
from generator.errors import NonFiniteLoss, WeightsUnavailable
from installation.worker import STUDIO_KEY, requeue_stale, shrink

sys.path.insert(0, str(Path(__file__).resolve().parent))
from worker_fakes import FakeBackend, make_worker  # noqa: E402


def test_a_nan_restarts_the_job_with_a_new_seed(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1", settings={"seed": 11})
    backend = FakeBackend(fail=[NonFiniteLoss("loss became nan at step 0")])
    w, _ = make_worker(studio, cat, backend)
    assert w.run() == 0
    assert [o.status for o in w.outcomes] == ["requeued", "done"]
    assert "non-finite loss with seed 11" in w.outcomes[0].error and "restart 1 with seed" in w.outcomes[0].error
    job = cat.get_job(job_id)
    assert job.status == "done" and job.attempts == 2
    assert job.settings[STUDIO_KEY] == {"nan_restarts": 1, "failed_seeds": [11]}
    assert job.settings["seed"] != 11 and backend.runs[1].seed == job.settings["seed"]
    assert cat.get_piece(job.piece_id).settings[STUDIO_KEY]["failed_seeds"] == [11]


def test_nan_restarts_are_bounded(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1")
    backend = FakeBackend(fail=[NonFiniteLoss("nan")] * 10)
    w, _ = make_worker(studio, cat, backend, max_nan_restarts=2)
    assert w.run() == 0
    job = cat.get_job(job_id)
    assert job.status == "failed" and job.attempts == 3 and len(backend.runs) == 3
    assert "gave up after 2 restart(s)" in job.error and cat.count_pieces() == 0


def test_cuda_oom_retries_smaller_and_records_it(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a wetland:1", settings={"size": [256, 192], "cutn": 32, "seed": 5})
    backend = FakeBackend(fail=[torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")])
    w, _ = make_worker(studio, cat, backend)
    assert w.run() == 0
    assert w.outcomes[0].error == "CUDA out of memory at 256x192, cutn 32; retrying at 192x144, cutn 16"
    job = cat.get_job(job_id)
    assert job.status == "done" and job.settings["size"] == [192, 144] and job.settings["cutn"] == 16
    assert job.settings[STUDIO_KEY] == {"oom_retries": 1, "oom": [{"size": [256, 192], "cutn": 32}]}
    retry = backend.runs[1]
    assert (retry.size, retry.cutn, retry.seed) == ((192, 144), 16, 5)  # same seed: only the size changed
    piece = cat.get_piece(job.piece_id)
    assert (piece.width, piece.height) == (192, 144)


def test_oom_at_the_smallest_size_fails_with_advice(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a wetland:1", settings={"size": [64, 64], "cutn": 1})
    w, _ = make_worker(studio, cat, FakeBackend(fail=[torch.OutOfMemoryError("CUDA out of memory")]))
    assert w.run() == 0
    job = cat.get_job(job_id)
    assert job.status == "failed" and "CUDA out of memory at 64x64, cutn 1" in job.error and "--size" in job.error


def test_missing_weights_at_start_stop_the_worker_before_any_claim(studio, cat: Catalog) -> None:
    job_id = cat.enqueue("a glacier:1")
    backend = FakeBackend(prepare_error=WeightsUnavailable("vqgan_imagenet_f16_16384.ckpt is missing"))
    w, _ = make_worker(studio, cat, backend)
    assert w.run() == 2
    job = cat.get_job(job_id)
    assert (job.status, job.attempts) == ("queued", 0) and len(backend.prepared) == 1


class BreaksLater(FakeBackend):
    """Loads fine at start; afterwards the weights of `bad` VQGANs (or of every VQGAN, `bad=None`) fail to load."""

    def __init__(self, bad: str | None) -> None:
        super().__init__()
        self.bad = bad

    def prepare(self, config) -> None:
        self.prepared.append(config)
        if len(self.prepared) > 1 and (self.bad is None or config.vqgan == self.bad):
            raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")


def test_corrupt_default_weights_requeue_the_job_and_stop(studio, cat: Catalog) -> None:
    first, second = cat.enqueue("a glacier:1"), cat.enqueue("a reef:1")
    w, _ = make_worker(studio, cat, BreaksLater(bad=None))
    assert w.run() == 2  # no busy loop over the queue: one try, then stop
    job = cat.get_job(first)
    assert job.status == "queued" and "cannot load the models" in job.error and "failed finding" in job.error
    assert cat.get_job(second).attempts == 0


def test_a_job_naming_broken_models_fails_alone(studio, cat: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")  # downloads allowed: the worker takes the job and its models fail to load
    bad = cat.enqueue("a glacier:1", settings={"vqgan": "wikiart_16384"})
    good = cat.enqueue("a reef:1")
    w, _ = make_worker(studio, cat, BreaksLater(bad="wikiart_16384"))
    assert w.run() == 0
    assert cat.get_job(bad).status == "failed" and "cannot load the models" in cat.get_job(bad).error
    assert cat.get_job(good).status == "done"


def test_a_worker_claims_only_what_it_can_run(studio, cat: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    """Offline without a model's weights, or too small for a size: the job waits for a worker that can run it."""
    missing = cat.enqueue("a glacier:1", settings={"vqgan": "wikiart_16384"}, priority=2)
    big = cat.enqueue("a wetland:1", settings={"size": [128, 128]}, priority=1)
    fits = cat.enqueue("a reef:1")
    backend = FakeBackend()
    w, _ = make_worker(studio, cat, backend, max_pixels=64 * 64)
    with caplog.at_level("INFO", "installation.worker.loop"):
        assert w.run() == 0
    assert [cat.get_job(j).status for j in (missing, big, fits)] == ["queued", "queued", "done"]
    assert cat.get_job(missing).attempts == 0 and len(backend.runs) == 1
    assert (f"job {missing} left for another worker: its model 'wikiart_16384' is not on this machine and downloads "
            "are off") in caplog.text
    assert f"job {big} left for another worker: it is 128x128 and this worker takes at most 4096 pixels" in caplog.text
    (me,) = cat.list_workers()
    assert me.capabilities["max_pixels"] == 4096 and me.capabilities["downloads"] is False and me.device == "cpu"
    w2, _ = make_worker(studio, cat, FakeBackend(), worker="big-box")
    assert w2.run() == 0
    assert cat.get_job(big).status == "done" and cat.get_job(missing).status == "queued"


def test_invalid_settings_and_unexpected_errors_fail_the_job_only(studio, cat: Catalog) -> None:
    bad = cat.enqueue("a glacier:1", settings={"steps": 0})
    typo = cat.enqueue("a glacier:1", settings={"stepz": 3})
    boom = cat.enqueue("a glacier:1")
    fine = cat.enqueue("a glacier:1")
    w, _ = make_worker(studio, cat, FakeBackend(fail=[ValueError("boom")]))
    assert w.run() == 0
    assert "invalid settings: steps must be at least 1" in cat.get_job(bad).error
    assert "unknown setting(s) stepz" in cat.get_job(typo).error
    assert cat.get_job(boom).status == "failed" and cat.get_job(boom).error == "ValueError: boom"
    assert cat.get_job(fine).status == "done"


def test_requeue_stale_takes_back_jobs_of_dead_local_workers(cat: Catalog) -> None:
    host = socket.gethostname()
    dead, alive, mine, remote = (cat.enqueue(f"job {i}:1") for i in range(4))
    cat.claim_job(f"{host}:999999999")  # no such process
    cat.claim_job(f"{host}:{os.getppid()}")  # alive
    cat.claim_job("test-worker")
    cat.claim_job("other-host:1")
    assert requeue_stale(cat, "test-worker") == 2
    status = {j.id: j.status for j in cat.list_jobs()}
    assert status == {dead: "queued", alive: "running", mine: "queued", remote: "running"}


@pytest.mark.parametrize(("size", "cutn", "expected"), [
    ((256, 192), 32, ((192, 144), 16)),
    ((304, 304), 32, ((224, 224), 16)),  # 228 -> 224 on the 16-pixel grid
    ((80, 80), 8, ((64, 64), 4)),
    ((64, 64), 8, ((64, 64), 4)),  # at the floor only cutn shrinks
    ((48, 48), 4, ((48, 48), 2)),  # already below the floor: never grown back to it
    ((64, 64), 1, None),
])
def test_shrink_after_oom(size, cutn, expected) -> None:
    assert shrink(size, cutn) == expected
