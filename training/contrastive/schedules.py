"""Learning-rate schedules as pure functions of the global step: linear warm-up, then cosine or tanh decay to
`min_lr`, then an optional cool-down held at `min_lr` (timm's schedulers, stepped per iteration).

Being a function of the step alone, a schedule needs nothing in a checkpoint beyond the step itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch.optim import Optimizer

from training.contrastive.config import SCHEDULES, Sched

# timm's TanhLRScheduler bounds: the decay follows 1 - tanh(x) for x from -7 to 3
TANH_LOWER, TANH_UPPER = -7.0, 3.0


@dataclass(frozen=True)
class Schedule:
    lr: float
    total_steps: int
    warmup_steps: int = 0
    cooldown_steps: int = 0
    warmup_lr: float = 0.0
    min_lr: float = 0.0
    kind: Sched = "cosine"

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}; known: {', '.join(SCHEDULES)}")
        if self.total_steps < 1 or min(self.warmup_steps, self.cooldown_steps) < 0:
            raise ValueError(f"need total_steps >= 1 and non-negative warm-up/cool-down, got {self}")

    @property
    def decay_steps(self) -> int:
        return max(self.total_steps - self.warmup_steps - self.cooldown_steps, 0)

    def __call__(self, step: int) -> float:
        """The learning rate for the update that follows `step` updates (step 0 is the first)."""
        if step < self.warmup_steps:
            return self.warmup_lr + (self.lr - self.warmup_lr) * step / self.warmup_steps
        if self.kind == "constant":
            return self.lr
        t = step - self.warmup_steps
        if t >= self.decay_steps:
            return self.min_lr
        frac = t / self.decay_steps
        if self.kind == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * frac))
        else:
            factor = 0.5 * (1.0 - math.tanh(TANH_LOWER + (TANH_UPPER - TANH_LOWER) * frac))
        return self.min_lr + (self.lr - self.min_lr) * factor


def schedule_for(*, kind: Sched, lr: float, warmup_lr: float, min_lr: float, epochs: int, warmup_epochs: int,
                 cooldown_epochs: int, steps_per_epoch: int) -> Schedule:
    """The per-step schedule of a run whose settings count epochs."""
    total = max(epochs * steps_per_epoch, 1)
    return Schedule(lr=lr, total_steps=total, warmup_steps=min(warmup_epochs * steps_per_epoch, total),
                    cooldown_steps=cooldown_epochs * steps_per_epoch, warmup_lr=warmup_lr, min_lr=min_lr, kind=kind)


def set_lr(optimizer: Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
