"""Training schedules: named, editable JSON files in `training/scorer/schedules/` (the registry).

A schedule is a list of stages. Each stage builds a fresh optimizer (`adamw`, `adam` or `sgd`) at a learning rate,
runs a number of epochs, and trains either the whole model or only the head (`"train": "head"` freezes the tower:
seed 001's strategy). Within a stage the loss may cycle: `"losses": ["mse", "l1", "mixed"], "loss_every": 2` switches
every 2 epochs (seed 000). Pass a name from the folder or a path to your own JSON file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

from generator.common.fields import known_keys
from generator.common.registry import JsonRegistry
from training.errors import TrainingError
from training.scorer.losses import LOSSES

Optimizer = Literal["adamw", "adam", "sgd"]
TrainPart = Literal["all", "head"]  # "head": the tower is frozen
LrDecay = Literal["constant", "cosine"]  # "cosine": to 0 at the end of the stage
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
TRAIN_PARTS: tuple[str, ...] = get_args(TrainPart)
LR_DECAYS: tuple[str, ...] = get_args(LrDecay)
SCHEDULES = JsonRegistry(Path(__file__).resolve().parent / "schedules", "schedule")


class ScheduleError(TrainingError):
    """A training schedule that cannot be used; the message names the stage and field."""


@dataclass(frozen=True)
class Stage:
    name: str
    optimizer: Optimizer
    lr: float
    epochs: int
    losses: tuple[str, ...] = ("mse",)
    loss_every: int = 0  # epochs per loss before the next one; 0 spreads the stage's epochs evenly over its losses
    train: TrainPart = "all"
    weight_decay: float | None = None  # None: the optimizer's own default (AdamW 0.01, Adam and SGD 0)
    momentum: float = 0.0  # SGD only; the seed's SGD is plain
    warmup_steps: int = 0
    lr_decay: LrDecay = "constant"

    def __post_init__(self) -> None:
        where = f"stage {self.name!r}"
        if self.optimizer not in OPTIMIZERS:
            raise ScheduleError(f"{where}: unknown optimizer {self.optimizer!r}; known: {', '.join(OPTIMIZERS)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ScheduleError(f"{where}: lr must be a positive number, got {self.lr}")
        if self.epochs < 1:
            raise ScheduleError(f"{where}: epochs must be >= 1, got {self.epochs}")
        if not self.losses:
            raise ScheduleError(f"{where}: needs at least one loss")
        unknown = [loss for loss in self.losses if loss not in LOSSES]
        if unknown:
            raise ScheduleError(f"{where}: unknown loss(es) {unknown}; known: {', '.join(LOSSES)}")
        if self.loss_every < 0:
            raise ScheduleError(f"{where}: loss_every must be >= 0, got {self.loss_every}")
        if self.train not in TRAIN_PARTS:
            raise ScheduleError(f"{where}: train must be one of {TRAIN_PARTS}, got {self.train!r}")
        if self.lr_decay not in LR_DECAYS:
            raise ScheduleError(f"{where}: lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")

    def loss_at(self, epoch_in_stage: int) -> str:
        every = self.loss_every or max(1, math.ceil(self.epochs / len(self.losses)))
        return self.losses[(epoch_in_stage // every) % len(self.losses)]


@dataclass(frozen=True)
class EpochPlan:
    epoch: int  # 0-based over the whole schedule
    stage_index: int
    epoch_in_stage: int
    loss: str


@dataclass(frozen=True)
class Schedule:
    name: str
    stages: tuple[Stage, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.stages:
            raise ScheduleError(f"schedule {self.name!r} has no stages")

    @property
    def epochs(self) -> int:
        return sum(s.epochs for s in self.stages)

    def plan(self) -> list[EpochPlan]:
        out = []
        for index, stage in enumerate(self.stages):
            for e in range(stage.epochs):
                out.append(EpochPlan(len(out), index, e, stage.loss_at(e)))
        return out

    def scaled(self, factor: float) -> Schedule:
        """Every stage's epochs (and loss_every) times `factor`, rounded, at least 1: the recipe's shape, shorter or
        longer."""
        if not (factor > 0 and math.isfinite(factor)):
            raise ScheduleError(f"epochs scale must be a positive number, got {factor}")
        if factor == 1:
            return self
        stages = tuple(replace(s, epochs=max(1, round(s.epochs * factor)),
                               loss_every=max(1, round(s.loss_every * factor)) if s.loss_every else 0)
                       for s in self.stages)
        return replace(self, stages=stages)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "stages": [{**asdict(s), "losses": list(s.losses)} for s in self.stages]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        known_keys(data, ("name", "description", "stages"), ScheduleError, "schedule keys")
        stages = []
        for i, raw in enumerate(data.get("stages", ())):
            values = known_keys(raw, Stage, ScheduleError, "keys", f"stage {i}")
            values.setdefault("name", f"stage{i}")
            values["losses"] = tuple(values.get("losses", ("mse",)))
            try:
                values["lr"] = float(values["lr"])
                values["epochs"] = int(values["epochs"])
            except KeyError as exc:
                raise ScheduleError(f"stage {i} needs {exc.args[0]!r}") from exc
            stages.append(Stage(**values))
        return cls(name=str(data.get("name", "custom")), stages=tuple(stages),
                   description=str(data.get("description", "")))


def list_schedules() -> list[str]:
    return SCHEDULES.names()


def load_schedule(name_or_path: str | Path) -> Schedule:
    """A schedule by registry name (see `list_schedules`) or from a JSON file path."""
    _, data = SCHEDULES.resolve(name_or_path)  # an unknown name raises UnknownEntry listing the known ones
    return Schedule.from_dict(data)


def with_head_warmup(schedule: Schedule, epochs: int, lr: float = 1e-3, optimizer: str = "adam",
                     loss: str = "mse") -> Schedule:
    """Seed 001's strategy in front of any schedule: `epochs` of head-only training (tower frozen) first."""
    if epochs <= 0:
        return schedule
    warm = Stage(name="head-warmup", optimizer=optimizer, lr=lr, epochs=epochs, losses=(loss,), train="head")
    return replace(schedule, name=f"{schedule.name}+head{epochs}", stages=(warm, *schedule.stages))
