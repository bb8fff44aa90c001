"""The studio loop: a long-running worker that turns queued prompts into curated pieces.

    claim a job (or sample one from the themes) -> generate (VQGAN+CLIP) -> write the piece's files into a temporary
    folder -> `Catalog.add_piece` (atomic) -> finish the job -> score, align, cluster, deduplicate, decide

What it survives, and how:

- a NaN/inf loss (`generator.errors.NonFiniteLoss`): the job goes back to the queue with a new seed, at most
  `max_nan_restarts` times, then fails; each restart is written in the job's error and settings.
- CUDA out of memory (`torch.OutOfMemoryError`): the cache is emptied and the job goes back to the queue smaller
  (size x0.75, cutn /2), recorded in its settings; at the smallest size it fails.
- missing or corrupt weights: the job goes back to the queue (it is not at fault) and the worker stops with a clear
  message and exit code 2, instead of failing every job in turn. A job that names its own models fails alone.
- SIGTERM / SIGINT: the current step ends, the job goes back to the queue, the worker exits with code 0.
- kill -9: at start, jobs left 'running' by this worker name, or by a dead process on this machine, are requeued;
  `add_piece` is atomic, so no half piece is ever visible; leftover temporary folders are removed.

Several workers (one per GPU, `--device cuda:N`) can share one studio: claims are transactions.
The generate step and the curator are injectable (`Backend`, `Curator`), so tests can inject a NaN or an OOM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from curation.catalog import Catalog, Job, Piece, default_worker_name
from curation.studio import Studio, StudioError
from installation.errors import InstallationError

log = logging.getLogger(__name__)

STUDIO_KEY = "studio"  # job settings key for the worker's own bookkeeping (not a generator setting)
MIN_SIDE = 64  # why: below 64 px a VQGAN f16 latent is 4x4 codes: nothing left to shrink into
SHRINK = 0.75


class WorkerStop(InstallationError):
    """The worker must stop (e.g. its default weights cannot be loaded); `exit_code` for the CLI."""


class WorkerInterrupted(InstallationError):
    """Raised inside a generation step when a stop was requested (SIGTERM)."""


@dataclass(frozen=True)
class WorkerOptions:
    preset: str | None = None  # None: the generator's default preset (imagenet_16384); "tiny" runs offline
    device: str = "auto"
    worker: str | None = None  # name recorded on claimed jobs; default host:pid
    max_jobs: int | None = None  # stop after this many jobs are done or failed
    idle_exit: bool = False  # exit when the queue is empty (and sampling is off)
    sample: bool = True  # when the queue is empty, queue a prompt sampled from the themes
    poll_s: float = 2.0  # idle wait between queue checks
    max_nan_restarts: int = 3  # why: three seeds that all diverge mean the settings are at fault, not the seed
    max_oom_retries: int = 4  # 0.75^4 ≈ 0.32: a quarter of the original area before giving up
    scorer: str | None = None  # aesthetic scorer spec; None: "tiny" on the tiny preset, else laion-vit-b-32
    encoder: str | None = None  # aligner encoder spec; None: the preset's first perceptor
    policy: str | None = None  # selection policy JSON; None: <studio>/selection.json or the defaults
    overrides: Mapping[str, Any] = field(default_factory=dict)  # generator settings for every job (size, steps, ...)
    sample_seed: int | None = None  # seed of the theme sampler (None: random)
    curate: bool = True  # score and decide each piece after it is made
    log_every: int = 0  # log progress every n steps; 0: ten times a piece
    requeue_running: bool = False  # at start, requeue every 'running' job (when no other worker is running)


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: str  # done | failed | requeued | interrupted
    piece: Piece | None = None
    decision: str | None = None
    error: str = ""


class Backend(Protocol):
    """What the loop needs from the generator: load the models for a config, run one piece, write its files."""

    def prepare(self, config: Any) -> None: ...

    def run(self, config: Any, on_step: Callable[[Any], None]) -> Any: ...

    def write(self, folder: Path, result: Any) -> Mapping[str, Path]: ...


class PipelineBackend:
    """The real generator: `load_models` once per (VQGAN, perceptors, device), `run`, `write_piece`."""

    def __init__(self) -> None:
        self._models: dict[tuple[Any, ...], Any] = {}
        self._key: tuple[Any, ...] | None = None

    @staticmethod
    def _model_key(config: Any) -> tuple[Any, ...]:
        return (config.vqgan, tuple(config.perceptors), config.device)

    def prepare(self, config: Any) -> None:
        from generator.pipeline import load_models

        key = self._model_key(config)
        if key not in self._models:
            self._models.clear()  # one set of models per worker: a GPU rarely holds two
            _empty_cuda_cache()
            log.info("loading models: VQGAN %s, perceptors %s on %s", *key)
            self._models[key] = load_models(config)
        self._key = key

    def run(self, config: Any, on_step: Callable[[Any], None]) -> Any:
        from generator.pipeline import run

        self.prepare(config)
        return run(config, models=self._models[self._model_key(config)], on_step=on_step)

    def write(self, folder: Path, result: Any) -> Mapping[str, Path]:
        from generator.outputs import write_piece

        return write_piece(folder, result)

    def release(self) -> None:
        self._models.clear()
        _empty_cuda_cache()


def _empty_cuda_cache() -> None:
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom)


def _generator_errors() -> tuple[type[BaseException], type[BaseException]]:
    from generator.errors import GeneratorError, NonFiniteLoss

    return GeneratorError, NonFiniteLoss


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


def make_config(values: Mapping[str, Any]) -> Any:
    """A checked `GenerateConfig` from settings (unknown keys refused), its preset's models filled in."""
    from generator.config import GenerateConfig

    return GenerateConfig.from_dict(dict(values)).resolved()


def parse_job_prompts(prompt: str) -> tuple[str, ...]:
    """A job's prompt 'a:1 | b:0.6' -> ('a:1', 'b:0.6')."""
    return tuple(p.strip() for p in prompt.split("|") if p.strip())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_stale(catalog: Catalog, worker: str) -> int:
    """Requeue jobs left 'running' by `worker` itself or by a process of this machine that no longer exists."""
    n = catalog.requeue_running(worker)
    host = socket.gethostname()
    for name in sorted({j.worker for j in catalog.list_jobs("running")}):
        w_host, _, pid = name.rpartition(":")
        if w_host == host and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            n += catalog.requeue_running(name)
    if n:
        log.warning("requeued %d job(s) left running by a stopped worker", n)
    return n


class StudioWorker:
    """One worker over one studio. `run()` returns the exit code (0, or 2 when it had to stop on an error)."""

    def __init__(self, studio: Studio, options: WorkerOptions | None = None, *, backend: Backend | None = None,
                 curator: Any | None = None, catalog: Catalog | None = None) -> None:
        self.studio = studio
        self.options = options or WorkerOptions()
        self.backend: Backend = backend or PipelineBackend()
        self.catalog = catalog or studio.catalog()
        self._own_catalog = catalog is None
        if self.options.preset is None:
            from generator.config import DEFAULT_PRESET

            self.options = dataclasses.replace(self.options, preset=DEFAULT_PRESET)
        self.name = self.options.worker or default_worker_name()
        self._curator = curator
        self._stop = threading.Event()
        self._stop_reason = ""
        self._rng = random.Random(self.options.sample_seed)
        self.outcomes: list[Outcome] = []
        self._default_models: tuple[Any, ...] | None = None
        self._themes_stamp: tuple[int, int] | None = None

    # -- control ----------------------------------------------------------------------------------------------------

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to stop at the next step (safe from a signal handler or another thread)."""
        self._stop_reason = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            if self.stopping and signum == signal.SIGINT:
                raise KeyboardInterrupt
            log.warning("%s: finishing the current step, requeueing the job and exiting", name)
            self.request_stop(f"interrupted by {name}")

        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    # -- configs ----------------------------------------------------------------------------------------------------

    def base_config(self) -> Any:
        """The worker's preset with its overrides and device (a placeholder prompt: it serves to load models)."""
        return make_config({"preset": self.options.preset, "device": self.options.device, **self.options.overrides,
                            "prompts": ["studio"]})

    def job_config(self, job: Job) -> Any:
        """The config of one job: the worker's preset and overrides, then the job's settings and prompts, and its
        seed (a new random one when the job has none)."""
        settings = {k: v for k, v in job.settings.items() if k != STUDIO_KEY}
        data = {"preset": self.options.preset, "device": self.options.device, **self.options.overrides, **settings}
        data["prompts"] = list(parse_job_prompts(job.prompt))
        if settings.get("seed") is None:
            data["seed"] = secrets.randbelow(2**31 - 1)
        return make_config(data)

    # -- the loop ---------------------------------------------------------------------------------------------------

    @property
    def curator(self) -> Any:
        if self._curator is None:
            from curation.curator import Curator
            from curation.selection import load_policy

            base = self.base_config()
            scorer = self.options.scorer or ("tiny" if self.options.preset == "tiny" else "laion-vit-b-32")
            encoder = self.options.encoder or str(base.perceptors[0]).split("@")[0]
            device = str(base.device)
            log.info("curators: aesthetic %s, aligner %s", scorer, encoder)
            self._curator = Curator.load(self.catalog, scorer=scorer, encoder=encoder, device=device,
                                         policy=load_policy(self.options.policy, self.studio.root))
        return self._curator

    def refresh_themes(self, *, strict: bool = False) -> None:
        """Copy `themes.toml` into the catalog when it changed since the last look, so the artist's edits reach the
        sampled prompts while the worker runs. A broken edit keeps the previous themes (logged); `strict` stops."""
        stamp = self.studio.themes_stamp()
        if stamp == self._themes_stamp:
            return
        try:
            self.studio.sync_themes()
        except StudioError as exc:
            if strict:
                raise WorkerStop(str(exc)) from exc
            log.warning("%s; keeping the themes as they were until the file is fixed", exc)
        # why only now: a sync cut short by a busy catalog (sqlite3.OperationalError) is tried again next time
        self._themes_stamp = stamp

    def startup(self) -> None:
        """Recover from a crash (stale jobs, temporary folders), load the default models, curate leftovers."""
        self.refresh_themes(strict=True)
        if self.options.requeue_running:
            n = self.catalog.requeue_running()
            if n:
                log.warning("requeued %d job(s) left running", n)
        requeue_stale(self.catalog, self.name)
        self.catalog.remove_orphans()
        tmp_root = self._tmp_root()
        if tmp_root.is_dir():
            cutoff = time.time() - 3600
            for p in tmp_root.iterdir():
                with contextlib.suppress(OSError):
                    if p.stat().st_mtime < cutoff:
                        shutil.rmtree(p, ignore_errors=True)
        base = self.base_config()
        self._default_models = (base.vqgan, tuple(base.perceptors))
        try:
            self.backend.prepare(base)
        except Exception as exc:
            raise WorkerStop(f"cannot load the models of preset {self.options.preset!r}: {exc}") from exc
        if self.options.curate:
            try:
                _ = self.curator
            except Exception as exc:
                raise WorkerStop(f"cannot load the curators: {exc}. Pass --scorer/--encoder (e.g. tiny), or run "
                                 f"with --no-curate and `dstrtd curate` later") from exc
            leftovers = self.catalog.list_pieces("generated")
            if leftovers:
                log.info("curating %d piece(s) left undecided", len(leftovers))
                self._curate(leftovers)

    def run(self) -> int:
        """Process jobs until stopped, `max_jobs` done, or idle with `idle_exit`; returns the exit code."""
        with self._signals():
            try:
                self.startup()
                return self._loop()
            except WorkerStop as exc:
                log.error("%s", exc)
                return exc.exit_code
            finally:
                if self._own_catalog:
                    self.catalog.close()

    def _finished(self) -> int:
        return sum(1 for o in self.outcomes if o.status in ("done", "failed"))

    def _loop(self) -> int:
        log.info("worker %s on studio %s (preset %s)", self.name, self.studio.root, self.options.preset)
        while not self.stopping:
            if self.options.max_jobs is not None and self._finished() >= self.options.max_jobs:
                log.info("done: %d job(s) finished", self._finished())
                break
            job = None
            try:
                self.refresh_themes()
                job = self.catalog.claim_job(self.name)
                if job is None and self.options.sample:
                    self.sample_job()
                    job = self.catalog.claim_job(self.name)
                if job is None:
                    if self.options.idle_exit:
                        log.info("queue empty: exiting (%d job(s) finished)", self._finished())
                        break
                    self._stop.wait(self.options.poll_s)
                    continue
                self.outcomes.append(self.process(job))
            except sqlite3.OperationalError as exc:  # e.g. locked longer than the busy timeout: wait, go on
                log.error("catalog unavailable (%s); retrying in %.0f s", exc, self.options.poll_s)
                if job is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self.catalog.fail_job(job.id, f"catalog error: {exc}; requeued", requeue=True)
                self._stop.wait(self.options.poll_s)
        if self.stopping:
            log.info("stopped: %s", self._stop_reason)
        return 0

    def sample_job(self) -> int | None:
        """Queue a prompt from the theme with the fewest pieces (ties broken at random); returns the job id."""
        themes = [t for t in self.catalog.list_themes() if t.prompts]
        if not themes:
            log.warning("the queue is empty and no theme has prompts to sample; add themes to themes.toml")
            return None
        counts = {t.name: len(self.catalog.list_pieces(theme=t.name)) for t in themes}
        fewest = min(counts.values())
        theme = self._rng.choice([t for t in themes if counts[t.name] == fewest])
        prompt = " | ".join((*theme.prompts, *theme.negative_prompts))
        job_id = self.catalog.enqueue(prompt, theme=theme.name, priority=-1)
        log.info("queue empty: sampled job %d from theme %s", job_id, theme.name)
        return job_id

    def process(self, job: Job) -> Outcome:
        """Generate, store and curate one claimed job; every failure is recorded on the job."""
        _, NonFiniteLoss = _generator_errors()
        log.info("job %d (attempt %d): %s", job.id, job.attempts, job.prompt)
        try:
            config = self.job_config(job)
        except Exception as exc:
            return self._fail(job, f"invalid settings: {exc}")
        try:
            self.backend.prepare(config)
        except Exception as exc:
            return self._on_weights(job, config, exc)
        started = time.monotonic()
        try:
            result = self.backend.run(config, self._on_step(job, config))
        except WorkerInterrupted:
            self.catalog.fail_job(job.id, f"{self._stop_reason}; requeued", requeue=True)
            return Outcome(job.id, "interrupted", error=self._stop_reason)
        except NonFiniteLoss as exc:
            return self._on_nan(job, config, exc)
        except Exception as exc:
            if _is_oom(exc):
                return self._on_oom(job, config, exc)
            log.exception("job %d failed", job.id)
            return self._fail(job, f"{type(exc).__name__}: {exc}")
        if self.stopping:  # the last step ran: keep the piece rather than throw the work away
            log.info("job %d: finished its last step while stopping; storing it", job.id)
        piece = self._store(job, config, result, time.monotonic() - started)
        if piece is None:
            return Outcome(job.id, "failed", error="could not store the piece")
        decision = None
        if self.options.curate:
            rows = self._curate([piece])
            decision = next((r.decision for r in rows if r.piece_id == piece.id), None)
        return Outcome(job.id, "done", piece=piece, decision=decision)

    def _on_step(self, job: Job, config: Any) -> Callable[[Any], None]:
        steps = int(getattr(config, "steps", 0) or 0)
        every = self.options.log_every or max(1, steps // 10)

        def on_step(step: Any) -> None:
            index = int(getattr(step, "index", 0))
            if index % every == 0 or index == steps - 1:
                loss = float(getattr(step, "loss", 0.0))
                log.info("job %d: step %d/%d loss %.4f", job.id, index + 1, steps, loss)
                self._record_progress(job, index + 1, steps, loss)
            if self.stopping:
                raise WorkerInterrupted(self._stop_reason)

        return on_step

    def _record_progress(self, job: Job, step: int, steps: int, loss: float) -> None:
        """Tell the catalog how far the job is (the review page's Studio tab, `dstrtd catalog jobs`). Best-effort:
        a failed write (a busy catalog, a full disk) is logged and the piece goes on."""
        try:
            self.catalog.set_job_progress(job.id, min(step, steps), steps, loss)
        except Exception as exc:
            log.warning("job %d: could not record its progress (%s: %s); generating on", job.id,
                        type(exc).__name__, exc)

    def _studio_state(self, job: Job) -> dict[str, Any]:
        state = job.settings.get(STUDIO_KEY)
        return dict(state) if isinstance(state, dict) else {}

    def _fail(self, job: Job, error: str) -> Outcome:
        log.error("job %d failed: %s", job.id, error)
        self.catalog.fail_job(job.id, error, requeue=False)
        return Outcome(job.id, "failed", error=error)

    def _on_nan(self, job: Job, config: Any, exc: BaseException) -> Outcome:
        state = self._studio_state(job)
        restarts = int(state.get("nan_restarts", 0))
        if restarts >= self.options.max_nan_restarts:
            return self._fail(job, f"non-finite loss with seed {config.seed} ({exc}); gave up after {restarts} "
                                   f"restart(s) with new seeds: try a lower lr or other prompts")
        new_seed = secrets.randbelow(2**31 - 1)
        state["nan_restarts"] = restarts + 1
        state.setdefault("failed_seeds", []).append(config.seed)
        settings = {**job.settings, "seed": new_seed, STUDIO_KEY: state}
        error = f"non-finite loss with seed {config.seed} ({exc}); restart {restarts + 1} with seed {new_seed}"
        log.warning("job %d: %s", job.id, error)
        self.catalog.fail_job(job.id, error, requeue=True, settings=settings)
        return Outcome(job.id, "requeued", error=error)

    def _on_oom(self, job: Job, config: Any, exc: BaseException) -> Outcome:
        _empty_cuda_cache()
        state = self._studio_state(job)
        retries = int(state.get("oom_retries", 0))
        w, h = (int(v) for v in config.size)
        cutn = int(getattr(config, "cutn", 1))
        smaller = shrink((w, h), cutn)
        if retries >= self.options.max_oom_retries or smaller is None:
            return self._fail(job, f"CUDA out of memory at {w}x{h}, cutn {cutn}, after {retries} smaller "
                                   f"retr{'y' if retries == 1 else 'ies'}: use a smaller --size or --cutn, or a GPU "
                                   f"with more memory")
        (nw, nh), ncut = smaller
        state["oom_retries"] = retries + 1
        state.setdefault("oom", []).append({"size": [w, h], "cutn": cutn})
        settings = {**job.settings, "size": [nw, nh], "cutn": ncut, "seed": config.seed, STUDIO_KEY: state}
        error = f"CUDA out of memory at {w}x{h}, cutn {cutn}; retrying at {nw}x{nh}, cutn {ncut}"
        log.warning("job %d: %s", job.id, error)
        self.catalog.fail_job(job.id, error, requeue=True, settings=settings)
        return Outcome(job.id, "requeued", error=error)

    def _on_weights(self, job: Job, config: Any, exc: BaseException) -> Outcome:
        """The models of a job could not be loaded (missing or corrupt weights, or a bad model name)."""
        if _is_oom(exc):
            return self._on_oom(job, config, exc)
        message = f"cannot load the models ({type(exc).__name__}: {exc})"
        if self._default_models is not None and (config.vqgan, tuple(config.perceptors)) != self._default_models:
            return self._fail(job, message)  # only this job names those models
        self.catalog.fail_job(job.id, f"{message}; requeued, the worker stopped", requeue=True)
        raise WorkerStop(f"{message}. The job was put back in the queue and the worker stopped; fix the weights "
                         f"(`dstrtd weights verify`) and start it again") from exc

    def _tmp_root(self) -> Path:
        return self.studio.root / "cache" / "tmp"

    def _store(self, job: Job, config: Any, result: Any, seconds: float) -> Piece | None:
        tmp_root = self._tmp_root()
        tmp_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"job{job.id}-", dir=tmp_root) as tmp:
            folder = Path(tmp)
            written = self.backend.write(folder, result)
            files: dict[str, Path] = {}
            for path in (Path(p) for p in written.values()):
                path = path if path.is_absolute() else folder / path
                if path.is_file():
                    files[path.relative_to(folder).as_posix().replace("/", "-")] = path
            metadata = dict(getattr(result, "metadata", {}) or {})
            metadata.setdefault("seconds", round(seconds, 3))
            metadata["worker"] = self.name
            metadata["job_id"] = job.id
            if job.settings.get(STUDIO_KEY):
                metadata[STUDIO_KEY] = job.settings[STUDIO_KEY]
            try:
                piece = self.catalog.add_piece(files, prompt=job.prompt, theme=job.theme, seed=config.seed,
                                               settings=metadata, job_id=job.id)
            except Exception as exc:
                self._fail(job, f"could not store the piece: {type(exc).__name__}: {exc}")
                return None
        self.catalog.finish_job(job.id, piece.id)
        log.info("job %d: piece %s in %.1f s", job.id, piece.slug, seconds)
        return piece

    def _curate(self, pieces: list[Piece]) -> list[Any]:
        try:
            return self.curator.curate(pieces)
        except Exception:
            # The pieces stay 'generated': `dstrtd curate` or the next start decides on them.
            log.exception("curation of %s failed; the piece(s) stay undecided", ", ".join(p.slug for p in pieces))
            return []


def run_worker(studio: Studio, options: WorkerOptions | None = None, **kwargs: Any) -> int:
    """Run one worker to completion; returns its exit code."""
    return StudioWorker(studio, options, **kwargs).run()
