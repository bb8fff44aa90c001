"""A background thread that decodes and fits the pieces the slideshow will need, so the render loop never waits.

The loop says which jobs it wants (`want`), every frame if it likes: jobs no longer wanted are dropped before they
start, jobs already done or running are not repeated. Finished work comes back through `poll()` as `Done` items,
each with either the prepared pixels or the reason the piece cannot be shown.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.common.errors import UnreadableImage
from installation.gallery.images import Prepared, prepare

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    piece_id: int
    path: str
    sha256: str
    size: tuple[int, int]  # canvas size in pixels
    fit: str
    background: tuple[int, int, int]
    max_pixels: int


@dataclass(frozen=True)
class Done:
    job: Job
    prepared: Prepared | None
    problem: str | None  # why the piece cannot be shown (None when `prepared` is set)
    seconds: float


def _decode(job: Job) -> Prepared:
    return prepare(job.path, job.size, fit_mode=job.fit, background=job.background, max_pixels=job.max_pixels)


class Preloader:
    """One worker thread; `close()` stops it. `decode` is replaceable for tests (slow or failing decoders)."""

    def __init__(self, decode: Callable[[Job], Prepared] = _decode) -> None:
        self._decode = decode
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[Job] = []
        self._running: Job | None = None
        self._done: queue.SimpleQueue[Done] = queue.SimpleQueue()
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="gallery-preload", daemon=True)
        self._thread.start()

    def want(self, jobs: Sequence[Job]) -> None:
        """Replace the pending jobs by `jobs` (first = most urgent), skipping the one being decoded right now."""
        with self._lock:
            self._pending = [j for j in jobs if j != self._running]
            if self._pending:
                self._wake.notify()

    def poll(self) -> list[Done]:
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._running is not None or bool(self._pending)

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stop = True
            self._pending = []
            self._wake.notify()
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                job = self._running = self._pending.pop(0)
            t0 = time.perf_counter()
            try:
                prepared, problem = self._decode(job), None
            except UnreadableImage as exc:
                prepared, problem = None, str(exc)
            except Exception as exc:  # never let one piece end the thread: it is the display's only decoder
                log.exception("decoding piece %d (%s) failed unexpectedly", job.piece_id, job.path)
                prepared, problem = None, f"unexpected {type(exc).__name__}: {exc}"
            with self._lock:
                self._running = None
            self._done.put(Done(job, prepared, problem, time.perf_counter() - t0))
