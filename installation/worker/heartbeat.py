"""The worker's heartbeat: a thread with its own catalog connection that says, every lease/4 seconds, that the
worker is alive and still on its job, so the job's lease never runs out while the worker works (a long step, a slow
model load, a busy catalog). When a beat finds the job taken from it (its lease expired while the machine stalled,
and another worker took or finished the job), the loop drops the job at its next step.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from curation.catalog import Catalog

log = logging.getLogger(__name__)

BEAT_TIMEOUT_S = 2.0  # why: a beat waits this long for a busy catalog; the next one comes a quarter lease later


class Heartbeat:
    """`start()`, then `working_on(job_id)` / `working_on(None)` as jobs come and go; `lost(job_id)`; `stop()`."""

    def __init__(self, catalog: Catalog, worker: str, interval: float) -> None:
        self._catalog = catalog
        self.worker = worker
        self.interval = interval
        self._job: int | None = None
        self._turn = 0  # one per `working_on`: a beat that began on an earlier claim marks nothing lost
        self._lost: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failing = False
        self.beats = 0
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{worker}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(BEAT_TIMEOUT_S + 5)

    def working_on(self, job_id: int | None) -> None:
        """The job the worker holds now (None: none); beats at once, so the catalog shows it."""
        with self._lock:
            self._job = job_id
            self._turn += 1
            if job_id is not None:
                self._lost.discard(job_id)  # a new claim of a job lost before
        self._wake.set()

    def lost(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._lost

    def _run(self) -> None:
        catalog: Catalog | None = None
        try:
            while not self._stop.is_set():
                try:
                    if catalog is None:
                        catalog = self._catalog.reopen(timeout=BEAT_TIMEOUT_S)
                    self._beat(catalog)
                except Exception as exc:  # never fatal: the lease outlives several missed beats
                    if not self._failing:
                        log.warning("heartbeat of %s failed (%s: %s); trying again every %.0f s", self.worker,
                                    type(exc).__name__, exc, self.interval)
                    self._failing = True
                    if catalog is not None:
                        with contextlib.suppress(Exception):
                            catalog.close()
                        catalog = None
                self._wake.wait(self.interval)
                self._wake.clear()
        finally:
            if catalog is not None:
                catalog.close()

    def _beat(self, catalog: Catalog) -> None:
        with self._lock:
            job, turn = self._job, self._turn
        held = catalog.heartbeat(self.worker, job)
        self.beats += 1
        if self._failing:
            log.info("heartbeat of %s works again", self.worker)
            self._failing = False
        if job is not None and not held:
            with self._lock:
                if turn == self._turn and job not in self._lost:
                    log.warning("job %d is no longer %s's (its lease expired and it went back to the queue, or "
                                "another worker finished it); dropping it", job, self.worker)
                    self._lost.add(job)
