"""Stand-ins for the generator and the curator, for studio-loop tests that must not depend on model speed.

Imported by the tests (and by worker subprocesses, which put this folder on sys.path).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass
class FakeStep:
    index: int
    loss: float
    losses: dict[str, float] = field(default_factory=dict)
    image: Any = None


@dataclass
class FakeResult:
    image: Image.Image
    trace: list[dict[str, float]]
    metadata: dict[str, Any]
    frames: list[Image.Image] = field(default_factory=list)


class FakeBackend:
    """Makes a flat image coloured by the seed. `fail` is a list of exceptions (or None) raised by successive runs;
    `prepare_error` is raised by `prepare`; `step_s` slows each step down (for signal tests)."""

    def __init__(self, fail: list[BaseException | None] | None = None, prepare_error: BaseException | None = None,
                 step_s: float = 0.0, steps: int | None = None) -> None:
        self.fail = list(fail or [])
        self.prepare_error = prepare_error
        self.step_s = step_s
        self.steps = steps
        self.prepared: list[Any] = []
        self.runs: list[Any] = []

    def prepare(self, config: Any) -> None:
        self.prepared.append(config)
        if self.prepare_error is not None:
            raise self.prepare_error

    def run(self, config: Any, on_step: Any) -> FakeResult:
        self.runs.append(config)
        if self.fail:
            exc = self.fail.pop(0)
            if exc is not None:
                on_step(FakeStep(0, 1.0))
                raise exc
        steps = self.steps or config.steps
        for i in range(steps):
            if self.step_s:
                time.sleep(self.step_s)
            on_step(FakeStep(i, 1.0 / (i + 1)))
        rgb = (config.seed % 251, (config.seed // 251) % 251, 128)
        image = Image.new("RGB", tuple(config.size), rgb)
        return FakeResult(image, [{"step": i, "loss": 1.0 / (i + 1)} for i in range(steps)],
                          {**config.to_dict(), "fake": True})

    def write(self, folder: Path, result: FakeResult) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        result.image.save(folder / "image.png")
        (folder / "settings.json").write_text(json.dumps(result.metadata, default=str))
        (folder / "loss.csv").write_text("step,loss\n" + "".join(f"{t['step']},{t['loss']}\n" for t in result.trace))
        return {"image": folder / "image.png", "settings": folder / "settings.json", "loss_csv": folder / "loss.csv"}


@dataclass(frozen=True)
class Row:
    piece_id: int
    slug: str
    decision: str
    reasons: tuple[str, ...]


class AcceptAll:
    """A curator that accepts every piece (with a reason) and remembers what it saw."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog
        self.seen: list[int] = []

    def curate(self, pieces: list[Any]) -> list[Row]:
        rows = []
        for p in pieces:
            self.seen.append(p.id)
            self.catalog.decide(p.id, "accepted", ["accepted by the test curator"])
            rows.append(Row(p.id, p.slug, "accepted", ("accepted by the test curator",)))
        return rows
