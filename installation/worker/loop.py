"""The studio loop: claim a job (or sample one from the themes) -> generate -> store the piece -> curate it.

    claim (with a lease) -> `Backend.run` (VQGAN+CLIP) -> `Backend.write` into a folder kept until the piece is
    stored (storing.py) -> `Catalog.store_piece` (the piece and the job's end in one transaction, retried while the
    catalog is busy) -> score, align, cluster, deduplicate, decide

SIGTERM / SIGINT end the current step, put the job back in the queue and exit with code 0. Several workers (one per
GPU, `--device cuda:N`, on one machine or many) share one catalog: claims are transactions, a heartbeat thread
renews the lease on the current job (heartbeat.py), and a dead worker's job returns to the queue when its lease
expires. What goes wrong is handled in `failures.py`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from curation.catalog import Catalog, CatalogUnavailable, Job, Piece, default_worker_name
from curation.defaults import RandomCurators, check_curators
from curation.studio import Studio, StudioError
from installation.worker import storing
from installation.worker.backend import Backend, PieceCurator, PipelineBackend, is_oom, make_config, parse_job_prompts
from installation.worker.capabilities import Capabilities, detect
from installation.worker.failures import Failures, model_names, requeue_stale
from installation.worker.heartbeat import Heartbeat
from installation.worker.options import STUDIO_KEY, JobLost, Outcome, WorkerInterrupted, WorkerOptions, WorkerStop

if TYPE_CHECKING:
    from curation.curator import CurationRow
    from generator.config import GenerateConfig
    from generator.pipeline import Result, Step

log = logging.getLogger(__name__)

TMP_MAX_AGE_S = 3600  # why: older than any piece takes, so no live worker's folder is touched


class StudioWorker:
    """One worker over one studio. `run()` returns the exit code (0, or 2 when it had to stop on an error)."""

    def __init__(self, studio: Studio, options: WorkerOptions | None = None, *, backend: Backend | None = None,
                 curator: PieceCurator | None = None, catalog: Catalog | None = None) -> None:
        self.studio = studio
        self.options = options or WorkerOptions()
        self.backend: Backend = backend or PipelineBackend()
        self.catalog = catalog or studio.catalog()
        self._own_catalog = catalog is None
        if self.options.preset is None:
            from generator.config import DEFAULT_PRESET

            self.options = dataclasses.replace(self.options, preset=DEFAULT_PRESET)
        self.name = self.options.worker or default_worker_name()
        self.failures = Failures(self.catalog, self.options, self.name)
        self._curator = curator
        self._stop = threading.Event()
        self._stop_reason = ""
        self._rng = random.Random(self.options.sample_seed)
        self.outcomes: list[Outcome] = []
        self._themes_stamp: tuple[int, int] | None = None
        self.heartbeat = Heartbeat(self.catalog, self.name, self.options.lease / 4)
        self.capabilities: Capabilities | None = None  # known once it starts
        self._left: set[int] = set()  # jobs it could not run, logged once

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

        def handler(signum: int, _frame: FrameType | None) -> None:
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

    def base_config(self) -> GenerateConfig:
        """The worker's preset with its overrides and device (a placeholder prompt: it serves to load models)."""
        return make_config({"preset": self.options.preset, "device": self.options.device, **self.options.overrides,
                            "prompts": ["studio"]})

    def job_config(self, job: Job) -> GenerateConfig:
        """The config of one job: the worker's preset and overrides, then the job's settings and prompts, and its
        seed (a new random one when the job has none)."""
        settings = {k: v for k, v in job.settings.items() if k != STUDIO_KEY}
        data = {"preset": self.options.preset, "device": self.options.device, **self.options.overrides, **settings}
        data["prompts"] = list(parse_job_prompts(job.prompt))
        if settings.get("seed") is None:
            data["seed"] = secrets.randbelow(2**31 - 1)
        return make_config(data)

    # -- start ------------------------------------------------------------------------------------------------------

    @property
    def curator(self) -> PieceCurator:
        if self._curator is None:
            from curation.curator import Curator
            from curation.selection import load_policy

            base = self.base_config()
            scorer, encoder = self.options.scorer, self.options.encoder
            log.info("curators: aesthetic %s, aligner %s", scorer, encoder)
            self._curator = Curator.load(self.catalog, scorer=scorer, encoder=encoder, device=str(base.device),
                                         allow_random=self.options.random_curators,
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
        # why only now: a sync cut short by a busy catalog (CatalogUnavailable) is tried again next time
        self._themes_stamp = stamp

    def startup(self) -> None:
        """Say who this worker is, recover from a crash (stale jobs, temporary folders, pieces waiting to be stored),
        load the default models, curate leftovers."""
        if self.options.curate:  # why first: refused before minutes of loading models
            try:
                check_curators(self.options.scorer, self.options.encoder, allow_random=self.options.random_curators)
            except RandomCurators as exc:
                raise WorkerStop(f"{exc}; or run with --no-curate") from exc
        self._register()
        self.refresh_themes(strict=True)
        if self.options.requeue_running:
            n = self.catalog.requeue_running()
            if n:
                log.warning("requeued %d job(s) left running", n)
        requeue_stale(self.catalog, self.name, self.options.max_attempts)
        self.catalog.remove_orphans()
        storing.remove_old(self.studio.tmp_dir, TMP_MAX_AGE_S)
        for job_id, piece in storing.store_waiting(self.catalog, self.studio.pending_dir, self._stop,
                                                   self.options.retry):
            self.outcomes.append(Outcome(job_id, "done", piece=piece))
        base = self.base_config()
        self.failures.default_models = model_names(base)
        try:
            self.backend.prepare(base)
        except Exception as exc:
            raise WorkerStop(f"cannot load the models of preset {self.options.preset!r}: {exc}") from exc
        if self.options.curate:
            try:
                _ = self.curator
            except Exception as exc:
                raise WorkerStop(f"cannot load the curators: {exc}. Pass --scorer/--encoder, or run "
                                 f"with --no-curate and `dstrtd curate` later") from exc
            leftovers = self.catalog.list_pieces("generated")
            if leftovers:
                log.info("curating %d piece(s) left undecided", len(leftovers))
                self._curate(leftovers)

    def _register(self) -> None:
        """Say who this worker is and what it can run (capabilities.py), then keep saying it is alive."""
        device = str(self.base_config().device)  # a bad preset or override says so here, as the CLI's error
        try:
            self.capabilities = detect(device, self.options.max_pixels)
        except Exception as exc:
            raise WorkerStop(f"cannot start on device {self.options.device!r}: {exc}") from exc
        self.catalog.register_worker(self.name, host=socket.gethostname(), pid=os.getpid(),
                                     device=self.capabilities.device, capabilities=self.capabilities.as_dict())
        log.info("worker %s: %s", self.name, self.capabilities)
        self.heartbeat.start()

    def can_run(self, job: Job) -> bool:
        """Whether this worker can run `job` (its size, device and models); one that cannot is left to others."""
        if self.capabilities is None:
            return True
        try:
            config = self.job_config(job)
        except Exception:  # settings that make no config fail with their reason wherever they run
            return True
        why = self.capabilities.refusal(config, job.settings.get("device"))
        if why is not None and job.id not in self._left:
            log.info("job %d left for another worker: %s", job.id, why)
            self._left.add(job.id)
        return why is None

    # -- the loop ---------------------------------------------------------------------------------------------------

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
                self.heartbeat.stop()
                with contextlib.suppress(Exception):
                    self.catalog.worker_stopped(self.name)
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
                job = self.claim()
                if job is None and self.options.sample:
                    self.sample_job()
                    job = self.claim()
                if job is None:
                    if self.options.idle_exit:
                        log.info("queue empty: exiting (%d job(s) finished)", self._finished())
                        break
                    self._stop.wait(self.options.poll)
                    continue
                self.heartbeat.working_on(job.id)
                try:
                    self.outcomes.append(self.process(job))
                finally:
                    self.heartbeat.working_on(None)
            except CatalogUnavailable as exc:  # locked longer than the busy timeout, or unreachable: wait, go on
                log.error("%s; retrying in %.0f s", exc, self.options.poll)
                if job is not None:  # else its lease runs out and any worker takes it back
                    with contextlib.suppress(CatalogUnavailable):
                        self.catalog.fail_job(job.id, f"catalog error: {exc}; requeued", requeue=True,
                                              worker=self.name)
                self._stop.wait(self.options.poll)
        if self.stopping:
            log.info("stopped: %s", self._stop_reason)
        return 0

    def claim(self) -> Job | None:
        return self.catalog.claim_job(self.name, lease=self.options.lease, max_attempts=self.options.max_attempts,
                                      accept=self.can_run)

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

    # -- one job ----------------------------------------------------------------------------------------------------

    def process(self, job: Job) -> Outcome:
        """Generate, store and curate one claimed job; every failure is recorded on the job."""
        from generator.errors import NonFiniteLoss

        log.info("job %d (attempt %d): %s", job.id, job.attempts, job.prompt)
        try:
            config = self.job_config(job)
        except Exception as exc:
            return self.failures.fail(job, f"invalid settings: {exc}")
        try:
            self.backend.prepare(config)
        except Exception as exc:
            return self.failures.unloadable(job, config, exc)
        started = time.monotonic()
        try:
            result = self.backend.run(config, self._on_step(job, config))
        except WorkerInterrupted:
            self.catalog.release_job(job.id, f"{self._stop_reason}; requeued", worker=self.name)
            return Outcome(job.id, "interrupted", error=self._stop_reason)
        except JobLost as exc:
            return Outcome(job.id, "lost", error=str(exc))
        except NonFiniteLoss as exc:
            return self.failures.non_finite(job, config, exc)
        except Exception as exc:
            if is_oom(exc):
                return self.failures.out_of_memory(job, config)
            log.exception("job %d failed", job.id)
            return self.failures.fail(job, f"{type(exc).__name__}: {exc}")
        if self.stopping:  # the last step ran: keep the piece rather than throw the work away
            log.info("job %d: finished its last step while stopping; storing it", job.id)
        outcome = self._store(job, config, result, time.monotonic() - started)
        if outcome.status != "done" or outcome.piece is None:
            return outcome
        piece = outcome.piece
        decision = None
        if self.options.curate:
            rows = self._curate([piece])
            decision = next((r.decision for r in rows if r.piece_id == piece.id), None)
        return Outcome(job.id, "done", piece=piece, decision=decision)

    def _on_step(self, job: Job, config: GenerateConfig) -> Callable[[Step], None]:
        steps = config.steps
        every = self.options.log_every or max(1, steps // 10)

        def on_step(step: Step) -> None:
            if step.index % every == 0 or step.index == steps - 1:
                log.info("job %d: step %d/%d loss %.4f", job.id, step.index + 1, steps, step.loss)
                self._record_progress(job, step.index + 1, steps, step.loss)
            if self.stopping:
                raise WorkerInterrupted(self._stop_reason)
            if self.heartbeat.lost(job.id):
                raise JobLost(f"job {job.id} was taken back from this worker (its lease expired)")

        return on_step

    def _record_progress(self, job: Job, step: int, steps: int, loss: float) -> None:
        """Tell the catalog how far the job is (the review page's Studio tab, `dstrtd catalog jobs`). Best-effort:
        a failed write (a busy catalog, a full disk) is logged and the piece goes on."""
        try:
            self.catalog.set_job_progress(job.id, min(step, steps), steps, loss, worker=self.name)
        except Exception as exc:
            log.warning("job %d: could not record its progress (%s: %s); generating on", job.id,
                        type(exc).__name__, exc)

    def _store(self, job: Job, config: GenerateConfig, result: Result, seconds: float) -> Outcome:
        """Write the piece's files, keep them until they are stored, then store the piece and finish the job in one
        transaction, waiting out a busy or unreachable catalog (storing.py)."""
        self.studio.tmp_dir.mkdir(parents=True, exist_ok=True)
        folder = self.studio.tmp_dir / f"job{job.id}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        try:
            written = [Path(p) for p in self.backend.write(folder, result).values()]
            metadata: dict[str, Any] = dict(result.metadata)
            metadata.setdefault("seconds", round(seconds, 3))
            metadata["worker"] = self.name
            metadata["job_id"] = job.id
            if job.settings.get(STUDIO_KEY):
                metadata[STUDIO_KEY] = job.settings[STUDIO_KEY]
            pending = storing.keep(folder, self.studio.pending_dir, job_id=job.id, attempt=job.attempts,
                                   prompt=job.prompt, theme=job.theme, seed=config.seed, settings=metadata,
                                   written=written)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            stored = storing.store(self.catalog, pending, self._stop, self.options.retry)
        except Exception as exc:
            self.failures.fail(job, f"could not store the piece: {type(exc).__name__}: {exc}")
            return Outcome(job.id, "failed", error="could not store the piece")
        if stored is None:
            return Outcome(job.id, "interrupted", error=f"{self._stop_reason}; the piece waits in {pending.folder}")
        piece, created = stored
        if not created:
            log.warning("job %d was finished by another worker meanwhile (piece %s); this run's piece is dropped",
                        job.id, piece.slug)
            return Outcome(job.id, "lost", piece=piece, error="finished by another worker")
        log.info("job %d: piece %s in %.1f s", job.id, piece.slug, seconds)
        return Outcome(job.id, "done", piece=piece)

    def _curate(self, pieces: list[Piece]) -> list[CurationRow]:
        try:
            return self.curator.curate(pieces)
        except Exception:
            # The pieces stay 'generated': `dstrtd curate` or the next start decides on them.
            log.exception("curation of %s failed; the piece(s) stay undecided", ", ".join(p.slug for p in pieces))
            return []


def run_worker(studio: Studio, options: WorkerOptions | None = None, **kwargs: Any) -> int:
    """Run one worker to completion; returns its exit code."""
    return StudioWorker(studio, options, **kwargs).run()
