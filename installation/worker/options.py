"""What a studio worker is told (`WorkerOptions`, one `dstrtd studio` option per field), what it reports for each
job (`Outcome`), and the two ways it stops. Light at import: the CLI builds its parser from these fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from curation.catalog import LEASE_S, MAX_ATTEMPTS, Piece
from curation.defaults import DEFAULT_ENCODER, DEFAULT_SCORER, ENCODER_HELP, RANDOM_HELP, SCORER_HELP
from generator.common.fields import setting
from installation.errors import InstallationError

STUDIO_KEY = "studio"  # job settings key for the worker's own bookkeeping (not a generator setting)
# "lost": its lease expired (the worker seemed dead) and another worker took the job, or finished it, meanwhile
OutcomeStatus = Literal["done", "failed", "requeued", "interrupted", "lost"]


class WorkerStop(InstallationError):
    """The worker must stop (e.g. its default weights cannot be loaded); `exit_code` for the CLI."""


class WorkerInterrupted(InstallationError):
    """Raised inside a generation step when a stop was requested (SIGTERM)."""


class JobLost(InstallationError):
    """Raised inside a generation step when the worker no longer holds the job (its lease expired meanwhile)."""


@dataclass(frozen=True)
class WorkerOptions:
    preset: str | None = setting(None, "generator preset; tiny runs offline with random weights",
                                 show="imagenet_16384, the generator's default")
    device: str = setting("auto", "auto, cpu, cuda or cuda:N (one worker per GPU)")
    worker: str | None = setting(None, "worker name recorded on its jobs", show="host:pid")
    max_jobs: int | None = setting(None, "stop after N jobs are done or failed", metavar="N")
    idle_exit: bool = setting(False, "exit when the queue is empty (and sampling is off)")
    sample: bool = setting(True, "when the queue is empty, queue a prompt sampled from the themes")
    poll: float = setting(2.0, "seconds between idle queue checks", metavar="S")
    # why 3: three seeds that all diverge mean the settings are at fault, not the seed
    max_nan_restarts: int = setting(3, "restarts with a new seed after a NaN/inf loss, then the job fails",
                                   metavar="N")
    # why 4: 0.75^4 ≈ 0.32, a quarter of the original area before giving up
    max_oom_retries: int = setting(4, "smaller retries after CUDA runs out of memory, then the job fails",
                                  metavar="N")
    scorer: str = setting(DEFAULT_SCORER, SCORER_HELP)
    encoder: str = setting(DEFAULT_ENCODER, ENCODER_HELP)
    random_curators: bool = setting(False, RANDOM_HELP)
    policy: str | None = setting(None, "selection policy JSON", show="STUDIO/selection.json, else the defaults")
    overrides: Mapping[str, Any] = setting(default_factory=dict, cli=False)  # generator settings for every job
    sample_seed: int | None = setting(None, "seed of the theme sampler", metavar="SEED", show="random")
    curate: bool = setting(True, "score and decide each piece after it is made (off: `dstrtd curate` later)")
    log_every: int = setting(0, "log and record progress every N steps", metavar="N", show="ten times a piece")
    requeue_running: bool = setting(False, "at start, requeue every job left 'running' (only when no other worker "
                                           "is running)")
    lease: float = setting(LEASE_S, "seconds a claimed job stays this worker's without a heartbeat; a dead "
                                    "worker's job goes back to the queue after this", metavar="S")
    max_attempts: int = setting(MAX_ATTEMPTS, "attempts of one job before it fails with its last error (a job "
                                              "that keeps dying)", metavar="N")
    max_pixels: int | None = setting(None, "largest width x height this worker takes; bigger jobs are left to "
                                           "others", metavar="N", show="from the GPU's memory; no limit on CPU")
    retry: float = setting(1.0, "seconds before storing a finished piece again in a busy or unreachable catalog "
                                "(doubling, up to a minute; the piece waits on disk)", metavar="S")


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: OutcomeStatus
    piece: Piece | None = None
    decision: str | None = None
    error: str = ""
