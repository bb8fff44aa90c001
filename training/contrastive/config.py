"""The settings of one contrastive training run, and the registry of named settings (JSON files in `configs/`).

Defaults are seed 002's Table 1 (the hyper-parameters of its phases 1 and 2); where the table is silent the number
comes from the course codebase it started from and says so. `configs/seed002.json` is that table,
`configs/seed002-phase3.json` the tuned winner (iSogCLR_New + RAdam, Table 3), `configs/tiny.json` the settings
tests use.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from generator.common.fields import known_keys
from training.contrastive.errors import ContrastiveError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

LOSSES = ("clip", "sogclr", "isogclr")
OPTIMIZERS = ("adamw", "adam", "radam", "lamb", "sgd", "rmsprop")
SCHEDULES = ("cosine", "tanh", "constant")
PRECISIONS = ("amp", "fp32")


@dataclass(frozen=True)
class TrainConfig:
    # -- data
    val_fraction: float = 0.2  # held out for retrieval/zero-shot evaluation; 0 evaluates on the training rows
    eval_data: str = ""  # a separate manifest to evaluate on instead (seed 002: COCO and ImageNet); all rows train
    data_fraction: float = 1.0  # seed 002 phase 1 searches on 20% of the training rows
    background: str = "#ffffff"  # transparent cut-outs are composited onto this colour
    resize: str = "pad"  # "pad" keeps a whole cut-out (pad to square, then resize); "crop" is CLIP's centre crop
    num_workers: int = 0
    # -- model
    model: str = "RN50"  # why: seed 002's image tower is a ResNet-50; any open_clip name or ours (tiny)
    embed_dim: int = 256  # Table 1
    # -- loss
    loss: str = "sogclr"
    temp: float = 0.01  # global temperature of CLIP and SogCLR (course codebase default)
    learnable_temp: bool = False  # Table 1: CLIP's temperature stays fixed
    sogclr_gamma: float = 0.8  # Table 1: weight of the new mini-batch estimate in u's moving average
    rho_I: float = 8.0  # Table 1: iSogCLR's DRO radius for image anchors
    rho_T: float = 8.0  # Table 1: ... and for text anchors
    tau_init: float = 0.01  # Table 1: iSogCLR's per-sample temperatures start here
    eta_init: float = 0.001  # Table 1: step size of the temperature updates
    tau_min: float = 0.005  # course codebase bounds of the per-sample temperatures
    tau_max: float = 0.05
    beta_u: float = 0.5  # course codebase: moving average of the temperature gradients
    tau_grad_clip: float = 5.0  # course codebase: temperature gradients are clipped to +-5 before averaging
    # -- optimisation
    optimizer: str = "adamw"  # the course codebase's default optimizer
    lr: float = 2e-4  # Table 1
    weight_decay: float = 0.02  # course codebase default (Table 1 is silent); not applied to gains, biases, scales
    momentum: float = 0.9  # SGD and RMSprop only
    beta1: float = 0.9
    beta2: float = 0.999
    opt_eps: float = 1e-8
    grad_clip: float = 0.0  # max global gradient norm; 0 leaves gradients as they are
    sched: str = "cosine"
    warmup_epochs: int = 5  # Table 1
    warmup_lr: float = 1e-5  # course codebase default; warm-up goes linearly from here to lr
    min_lr: float = 1e-5  # Table 3
    cooldown_epochs: int = 0  # Table 1: epochs held at min_lr after the decay
    epochs: int = 30  # seed 002 phase 3 (phases 1 and 2 ran 10 and 15)
    batch_size: int = 128  # Table 1: the global batch, split evenly across ranks
    precision: str = "amp"  # mixed precision on CUDA only; CPU always runs float32
    seed: int = 42
    device: str = "auto"
    # -- evaluation and bookkeeping
    eval_every: int = 1  # epochs between evaluations (the last epoch is always evaluated)
    eval_batch_size: int = 256
    eval_train_max: int = 1000  # also report retrieval on up to this many training rows (0: never)
    zero_shot_templates: tuple[str, ...] = ("a picture of {}.", "a drawing of {}.", "{}")
    log_every: int = 10  # steps between log lines
    checkpoint_every: int = 0  # steps between mid-epoch checkpoints; 0 saves at epoch ends only

    def __post_init__(self) -> None:
        problems = []
        for name, allowed in (("loss", LOSSES), ("optimizer", OPTIMIZERS), ("sched", SCHEDULES),
                              ("precision", PRECISIONS), ("resize", ("pad", "crop"))):
            if getattr(self, name) not in allowed:
                problems.append(f"{name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")
        for name in ("lr", "temp", "tau_init", "tau_min", "tau_max", "batch_size", "epochs", "embed_dim",
                     "eval_batch_size", "eval_every"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.val_fraction < 1.0:
            problems.append(f"val_fraction lies in [0, 1), got {self.val_fraction}")
        if not 0.0 < self.data_fraction <= 1.0:
            problems.append(f"data_fraction lies in (0, 1], got {self.data_fraction}")
        if not 0.0 < self.sogclr_gamma <= 1.0:
            problems.append(f"sogclr_gamma lies in (0, 1], got {self.sogclr_gamma}")
        if not 0.0 < self.beta_u <= 1.0:
            problems.append(f"beta_u lies in (0, 1], got {self.beta_u}")
        if self.tau_min > self.tau_max:
            problems.append(f"tau_min ({self.tau_min}) exceeds tau_max ({self.tau_max})")
        if self.batch_size < 2:
            problems.append("batch_size must be at least 2: a contrastive batch needs negatives")
        if min(self.warmup_epochs, self.cooldown_epochs, self.num_workers, self.grad_clip, self.weight_decay,
               self.checkpoint_every, self.eval_train_max) < 0:
            problems.append("warmup_epochs, cooldown_epochs, num_workers, grad_clip, weight_decay, "
                            "checkpoint_every and eval_train_max cannot be negative")
        if problems:
            raise ContrastiveError("invalid training config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["zero_shot_templates"] = list(self.zero_shot_templates)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        values = known_keys(data, cls, ContrastiveError, "config keys")
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    def replace(self, **changes: Any) -> TrainConfig:
        """`dataclasses.replace` with the same checks and coercion as `from_dict` (CLI strings become numbers)."""
        merged = self.to_dict()
        merged.update(changes)
        return TrainConfig.from_dict(merged)


_HINTS: dict[str, Any] = {}


def _coerce(name: str, value: Any) -> Any:
    """JSON and command-line values to the field's type: "1e-4" -> 1e-4, "true" -> True, list -> tuple."""
    if not _HINTS:
        _HINTS.update(get_type_hints(TrainConfig))
    hint = _HINTS[name]
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if hint is float:
            return float(value)
        if get_origin(hint) is tuple:
            if isinstance(value, str):
                value = [value]
            (item, _ellipsis) = get_args(hint)
            return tuple(item(v) for v in value)
        return str(value) if hint is str else value
    except (TypeError, ValueError) as exc:
        raise ContrastiveError(f"config field {name} expects {getattr(hint, '__name__', hint)}, got {value!r}") from exc


def known_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_config(name_or_path: str | Path) -> TrainConfig:
    """A named config (`configs/<name>.json`) or a JSON file; keys starting with "_" are notes and are skipped."""
    path = Path(name_or_path)
    if path.suffix != ".json" or not path.is_file():
        named = CONFIG_DIR / f"{name_or_path}.json"
        if not named.is_file():
            raise ContrastiveError(f"unknown training config {str(name_or_path)!r}: not a JSON file and not one of "
                                   f"{', '.join(known_configs())}")
        path = named
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ContrastiveError(f"cannot read training config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ContrastiveError(f"training config {path} must hold a JSON object")
    return TrainConfig.from_dict({k: v for k, v in data.items() if not k.startswith("_")})
