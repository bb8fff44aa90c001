"""The studio worker: a long-running loop that turns queued prompts into curated pieces (`dstrtd studio`).

    options.py   WorkerOptions (one `dstrtd studio` option per field), Outcome, WorkerStop
    backend.py   the seams: Backend (the generator; PipelineBackend is the real one) and PieceCurator
    loop.py      StudioWorker: claim -> generate -> store -> curate, signals, theme refresh, progress
    storing.py   a finished piece kept on disk until it is stored, retried while the catalog is busy
    heartbeat.py the thread that renews the lease on the current job
    failures.py  NaN restarts, out-of-memory retries, unloadable weights, jobs of dead workers

Not to be confused with `curation.studio`, the studio folder the worker works in.
"""

from installation.worker.backend import Backend, PieceCurator, PipelineBackend, make_config, parse_job_prompts
from installation.worker.failures import requeue_stale, shrink
from installation.worker.loop import StudioWorker, run_worker
from installation.worker.options import STUDIO_KEY, Outcome, WorkerInterrupted, WorkerOptions, WorkerStop

__all__ = [
    "STUDIO_KEY", "Backend", "Outcome", "PieceCurator", "PipelineBackend", "StudioWorker", "WorkerInterrupted",
    "WorkerOptions", "WorkerStop", "make_config", "parse_job_prompts", "requeue_stale", "run_worker", "shrink",
]
