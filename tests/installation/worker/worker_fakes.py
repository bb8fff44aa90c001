"""Stand-ins for the generator and the curator, for worker tests that must not depend on model speed.

They hand the worker the generator's own `Step` and `Result` and the curator's own `CurationRow`, so a renamed field
breaks these tests as it would break the worker. Imported by the tests (and by worker subprocesses, which put this
folder on sys.path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from curation.catalog import Catalog, Piece
from curation.curator import CurationRow
from curation.studio import CATALOG_ENV, Studio
from generator.config import GenerateConfig
from generator.pipeline import Result, Step
from installation.worker import StudioWorker, WorkerOptions


def step(index: int, loss: float) -> Step:
    return Step(index=index, loss=loss, losses={"prompt": loss}, image=None)


class FakeBackend:
    """Makes a flat image coloured by the seed. `fail` is a list of exceptions (or None) raised by successive runs;
    `prepare_error` is raised by `prepare`; `step_s` slows each step down (for signal tests)."""

    def __init__(self, fail: list[BaseException | None] | None = None, prepare_error: BaseException | None = None,
                 step_s: float = 0.0, steps: int | None = None) -> None:
        self.fail = list(fail or [])
        self.prepare_error = prepare_error
        self.step_s = step_s
        self.steps = steps
        self.prepared: list[GenerateConfig] = []
        self.runs: list[GenerateConfig] = []

    def prepare(self, config: GenerateConfig) -> None:
        self.prepared.append(config)
        if self.prepare_error is not None:
            raise self.prepare_error

    def run(self, config: GenerateConfig, on_step: Callable[[Step], None]) -> Result:
        self.runs.append(config)
        if self.fail:
            exc = self.fail.pop(0)
            if exc is not None:
                on_step(step(0, 1.0))
                raise exc
        steps = self.steps or config.steps
        for i in range(steps):
            if self.step_s:
                time.sleep(self.step_s)
            on_step(step(i, 1.0 / (i + 1)))
        rgb = (config.seed % 251, (config.seed // 251) % 251, 128)
        image = Image.new("RGB", tuple(config.size), rgb)
        return Result(image=image, trace=[{"step": i, "loss": 1.0 / (i + 1)} for i in range(steps)],
                      metadata={**config.to_dict(), "fake": True})

    def write(self, folder: Path, result: Result) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        result.image.save(folder / "image.png")
        (folder / "settings.json").write_text(json.dumps(result.metadata, default=str))
        (folder / "loss.csv").write_text("step,loss\n" + "".join(f"{t['step']},{t['loss']}\n" for t in result.trace))
        return {"image": folder / "image.png", "settings": folder / "settings.json", "loss_csv": folder / "loss.csv"}


class AcceptAll:
    """A curator that accepts every piece (with a reason) and remembers what it saw."""

    REASON = "accepted by the test curator"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.seen: list[int] = []

    def curate(self, pieces: Sequence[Piece]) -> list[CurationRow]:
        rows = []
        for p in pieces:
            self.seen.append(p.id)
            self.catalog.decide(p.id, "accepted", [self.REASON])
            rows.append(CurationRow(piece_id=p.id, slug=p.slug, theme=p.theme, aesthetic=None, alignment=None,
                                    cluster=None, decision="accepted", reasons=(self.REASON,)))
        return rows


SMALL = {"size": [32, 32], "steps": 3, "cutn": 8}  # generator settings of a fast fake piece


def make_worker(studio: Studio, cat: Catalog, backend: FakeBackend, **options: Any) -> tuple[StudioWorker, AcceptAll]:
    """A worker on the tiny preset that runs the queue once (no sampling) with `backend` and an AcceptAll curator."""
    curator = AcceptAll(cat)
    opts = WorkerOptions(**{"preset": "tiny", "idle_exit": True, "sample": False, "worker": "test-worker",
                            "overrides": SMALL, **options})
    return StudioWorker(studio, opts, backend=backend, curator=curator, catalog=cat), curator


HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# argv: this folder, studio, WorkerOptions fields (JSON), step seconds, fault ("" or "kill-in-finish")
WORKER = textwrap.dedent("""
    import json, logging, os, signal, sys
    sys.path.insert(0, sys.argv[1])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    from worker_fakes import AcceptAll, FakeBackend
    from curation.catalog.jobs import SqlJobQueue
    from curation.studio import open_studio
    from installation.worker import StudioWorker, WorkerOptions
    if sys.argv[5] == "kill-in-finish":  # the piece is stored, its job not yet finished: the worst moment to die
        SqlJobQueue.finish = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
    studio = open_studio(sys.argv[2])
    cat = studio.catalog()
    options = WorkerOptions(**{"preset": "tiny", "sample": False, **json.loads(sys.argv[3])})
    backend = FakeBackend(step_s=float(sys.argv[4]))
    sys.exit(StudioWorker(studio, options, backend=backend, curator=AcceptAll(cat), catalog=cat).run())
""")


def start_worker_process(studio: Studio, step_s: float = 0.0, fault: str = "", **options: Any) -> subprocess.Popen:
    """A worker process on `studio` (its catalog server too, if any) with a FakeBackend and an AcceptAll curator."""
    env = dict(os.environ, PYTHONPATH=str(REPO), **{CATALOG_ENV: studio.catalog_url or ""})
    return subprocess.Popen([sys.executable, "-c", WORKER, str(HERE), str(studio.root), json.dumps(options),
                             str(step_s), fault], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)
