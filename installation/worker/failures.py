"""What the worker does when a job goes wrong, and how it recovers from a crashed worker.

- a NaN/inf loss (`generator.errors.NonFiniteLoss`): the job goes back to the queue with a new seed, at most
  `max_nan_restarts` times, then fails; each restart is written in the job's error and settings.
- CUDA out of memory (`torch.OutOfMemoryError`): the cache is emptied and the job goes back to the queue smaller
  (size x0.75, cutn /2), recorded in its settings; at the smallest size it fails.
- missing or corrupt weights: the job goes back to the queue (it is not at fault) and the worker stops with a clear
  message and exit code 2, instead of failing every job in turn. A job that names its own models fails alone.
- kill -9: the dead worker's lease runs out and the next claim, by any worker on any machine, returns its job to the
  queue (jobs.py), or fails it with the reason once it has used its attempts. At start, a worker takes back at once
  the jobs left running under its own name or by a dead process of this machine (no need to wait for the lease).
- the lease lost while the worker lives (a stalled machine): the heartbeat notices, and the job is dropped.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, Any

from curation.catalog import MAX_ATTEMPTS, Catalog, Job
from installation.worker.backend import empty_cuda_cache, is_oom
from installation.worker.options import STUDIO_KEY, Outcome, WorkerOptions, WorkerStop

if TYPE_CHECKING:
    from generator.config import GenerateConfig

log = logging.getLogger(__name__)

MIN_SIDE = 64  # why: below 64 px a VQGAN f16 latent is 4x4 codes: nothing left to shrink into
SHRINK = 0.75
ModelNames = tuple[str, tuple[str, ...]]  # (VQGAN, perceptors) of a resolved config


def shrink(size: tuple[int, int], cutn: int) -> tuple[tuple[int, int], int] | None:
    """The next smaller (size, cutn) after an out-of-memory error, or None when nothing can shrink.

    Sides x0.75 on the 16-pixel grid (which suits every VQGAN: f4, f8, f16), never below MIN_SIDE and never larger
    than they were; cutn halves (at least 1).
    """
    w, h = size
    nw, nh = (max(min(v, MIN_SIDE), int(v * SHRINK) // 16 * 16) for v in (w, h))
    ncut = max(1, cutn // 2)
    if (nw, nh) == (w, h) and ncut == cutn:
        return None
    return (nw, nh), ncut


def model_names(config: GenerateConfig) -> ModelNames:
    return config.vqgan, tuple(config.perceptors)


class Failures:
    """Records each failure on its job and decides: fail it, put it back (changed), or stop the worker."""

    def __init__(self, catalog: Catalog, options: WorkerOptions, worker: str) -> None:
        self.catalog = catalog
        self.options = options
        self.worker = worker
        self.default_models: ModelNames | None = None  # the worker's own; set once they loaded at start

    def fail(self, job: Job, error: str) -> Outcome:
        log.error("job %d failed: %s", job.id, error)
        self.catalog.fail_job(job.id, error, requeue=False, worker=self.worker)
        return Outcome(job.id, "failed", error=error)

    def _requeue(self, job: Job, error: str, settings: dict[str, Any]) -> Outcome:
        log.warning("job %d: %s", job.id, error)
        self.catalog.fail_job(job.id, error, requeue=True, settings=settings, worker=self.worker)
        return Outcome(job.id, "requeued", error=error)

    def non_finite(self, job: Job, config: GenerateConfig, exc: BaseException) -> Outcome:
        state = studio_state(job)
        restarts = int(state.get("nan_restarts", 0))
        if restarts >= self.options.max_nan_restarts:
            return self.fail(job, f"non-finite loss with seed {config.seed} ({exc}); gave up after {restarts} "
                                  f"restart(s) with new seeds: try a lower lr or other prompts")
        new_seed = secrets.randbelow(2**31 - 1)
        state["nan_restarts"] = restarts + 1
        state.setdefault("failed_seeds", []).append(config.seed)
        settings = {**job.settings, "seed": new_seed, STUDIO_KEY: state}
        error = f"non-finite loss with seed {config.seed} ({exc}); restart {restarts + 1} with seed {new_seed}"
        return self._requeue(job, error, settings)

    def out_of_memory(self, job: Job, config: GenerateConfig) -> Outcome:
        empty_cuda_cache()
        state = studio_state(job)
        retries = int(state.get("oom_retries", 0))
        w, h = (int(v) for v in config.size)
        cutn = int(config.cutn)
        smaller = shrink((w, h), cutn)
        if retries >= self.options.max_oom_retries or smaller is None:
            return self.fail(job, f"CUDA out of memory at {w}x{h}, cutn {cutn}, after {retries} smaller "
                                  f"retr{'y' if retries == 1 else 'ies'}: use a smaller --size or --cutn, or a GPU "
                                  f"with more memory")
        (nw, nh), ncut = smaller
        state["oom_retries"] = retries + 1
        state.setdefault("oom", []).append({"size": [w, h], "cutn": cutn})
        settings = {**job.settings, "size": [nw, nh], "cutn": ncut, "seed": config.seed, STUDIO_KEY: state}
        return self._requeue(job, f"CUDA out of memory at {w}x{h}, cutn {cutn}; retrying at {nw}x{nh}, cutn {ncut}",
                             settings)

    def unloadable(self, job: Job, config: GenerateConfig, exc: BaseException) -> Outcome:
        """The models of a job could not be loaded (missing or corrupt weights, or a bad model name)."""
        if is_oom(exc):
            return self.out_of_memory(job, config)
        message = f"cannot load the models ({type(exc).__name__}: {exc})"
        if self.default_models is not None and model_names(config) != self.default_models:
            return self.fail(job, message)  # only this job names those models
        self.catalog.release_job(job.id, f"{message}; requeued, the worker stopped", worker=self.worker)
        raise WorkerStop(f"{message}. The job was put back in the queue and the worker stopped; fix the weights "
                         f"(`dstrtd weights verify`) and start it again") from exc


def studio_state(job: Job) -> dict[str, Any]:
    """The worker's own bookkeeping on a job (restarts, retries), a copy to change."""
    state = job.settings.get(STUDIO_KEY)
    return dict(state) if isinstance(state, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_stale(catalog: Catalog, worker: str, max_attempts: int = MAX_ATTEMPTS) -> int:
    """Take back at once the jobs left 'running' by `worker` itself (an earlier run of the same name) or by a process
    of this machine that no longer exists: requeued, or failed at the attempts cap. The fast path; jobs of workers
    on other machines come back when their lease expires."""
    n = catalog.reap_jobs(max_attempts, worker=worker)
    host = socket.gethostname()
    for name in sorted({j.worker for j in catalog.list_jobs("running")}):
        w_host, _, pid = name.rpartition(":")
        if w_host == host and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            n += catalog.reap_jobs(max_attempts, worker=name)
    if n:
        log.warning("took back %d job(s) left running by a stopped worker", n)
    return n
