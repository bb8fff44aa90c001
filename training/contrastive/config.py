"""The settings of one contrastive training run, and the registry of named settings (JSON files in `configs/`).

Defaults are seed 002's Table 1 (the hyper-parameters of its phases 1 and 2); where the table is silent the number
comes from the course codebase it started from and says so. `configs/seed002.json` is that table,
`configs/seed002-phase3.json` the tuned winner (iSogCLR_New + RAdam, Table 3), `configs/tiny.json` the settings
tests use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from generator.common.fields import known_keys, setting
from generator.common.registry import JsonRegistry
from training.contrastive.errors import ContrastiveError

CONFIGS = JsonRegistry(Path(__file__).resolve().parent / "configs", "training config")

Loss = Literal["clip", "sogclr", "isogclr"]
Optimizer = Literal["adamw", "adam", "radam", "lamb", "sgd", "rmsprop"]
Sched = Literal["cosine", "tanh", "constant"]
Precision = Literal["amp", "fp32"]
Resize = Literal["pad", "crop"]
LOSSES: tuple[str, ...] = get_args(Loss)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
SCHEDULES: tuple[str, ...] = get_args(Sched)
PRECISIONS: tuple[str, ...] = get_args(Precision)
RESIZES: tuple[str, ...] = get_args(Resize)


@dataclass(frozen=True)
class TrainConfig:
    # -- data
    val_fraction: float = setting(0.2, "share of pairs held out for evaluation (0: evaluate on the training pairs)")
    eval_data: str = setting("", "evaluate on this manifest instead of a held-out share (labels give zero-shot "
                                 "accuracy); all pairs train", show="none")  # seed 002: COCO and ImageNet
    data_fraction: float = setting(1.0, "train on this share of the training pairs")  # seed 002 phase 1: 20%
    background: str = setting("#ffffff", "colour transparent cut-outs are composited onto")
    resize: Resize = setting("pad", "pad: keep a whole cut-out (pad to square, then resize); crop: CLIP's centre "
                                    "crop")
    num_workers: int = setting(0, "data-loading worker processes")
    # -- model
    # why RN50: seed 002's image tower is a ResNet-50
    model: str = setting("RN50", "open_clip architecture (ViT-B-32, RN50, ...) or one of ours (tiny); random "
                                 "weights")
    embed_dim: int = setting(256, "width of the shared embedding")  # Table 1
    # -- loss
    loss: Loss = setting("sogclr", "contrastive loss")
    temp: float = setting(0.01, "temperature of the CLIP and SogCLR losses")  # course codebase default
    learnable_temp: bool = setting(False, "CLIP loss: learn the temperature")  # Table 1: it stays fixed
    sogclr_gamma: float = setting(0.8, "weight of the new mini-batch estimate in SogCLR's moving average")  # Table 1
    rho_I: float = setting(8.0, "iSogCLR's DRO radius for image anchors")  # Table 1
    rho_T: float = setting(8.0, "iSogCLR's DRO radius for text anchors")  # Table 1
    tau_init: float = setting(0.01, "iSogCLR's per-sample temperatures start here")  # Table 1
    eta_init: float = setting(0.001, "step size of iSogCLR's temperature updates")  # Table 1
    tau_min: float = setting(0.005, "lower bound of iSogCLR's per-sample temperatures")  # course codebase
    tau_max: float = setting(0.05, "upper bound of iSogCLR's per-sample temperatures")  # course codebase
    beta_u: float = setting(0.5, "moving average of iSogCLR's temperature gradients")  # course codebase
    # course codebase: temperature gradients are clipped to +-5 before averaging
    tau_grad_clip: float = setting(5.0, "clip of iSogCLR's temperature gradients")
    # -- optimisation
    optimizer: Optimizer = setting("adamw", "optimizer")  # the course codebase's default
    lr: float = setting(2e-4, "peak learning rate")  # Table 1
    # course codebase default (Table 1 is silent)
    weight_decay: float = setting(0.02, "weight decay (not applied to gains, biases and scales)")
    momentum: float = setting(0.9, "SGD and RMSprop momentum")
    beta1: float = setting(0.9, "Adam-family beta1")
    beta2: float = setting(0.999, "Adam-family beta2")
    opt_eps: float = setting(1e-8, "Adam-family epsilon")
    grad_clip: float = setting(0.0, "max global gradient norm (0: off)")
    sched: Sched = setting("cosine", "learning-rate schedule after the warm-up")
    warmup_epochs: int = setting(5, "epochs of linear warm-up from warmup_lr to lr")  # Table 1
    warmup_lr: float = setting(1e-5, "learning rate the warm-up starts from")  # course codebase default
    min_lr: float = setting(1e-5, "learning rate at the end of the decay")  # Table 3
    cooldown_epochs: int = setting(0, "epochs held at min_lr after the decay")  # Table 1
    epochs: int = setting(30, "epochs to train")  # seed 002 phase 3 (phases 1 and 2 ran 10 and 15)
    batch_size: int = setting(128, "global batch, split across ranks")  # Table 1
    precision: Precision = setting("amp", "amp: mixed precision, on CUDA only (CPU always runs float32)")
    seed: int = setting(42, "seed of the split, the data order and the initial weights")
    device: str = setting("auto", "auto, cpu, cuda, cuda:N or mps (under torchrun, cuda is each rank's GPU)")
    # -- evaluation and bookkeeping
    eval_every: int = setting(1, "epochs between evaluations (the last epoch is always evaluated)")
    eval_batch_size: int = setting(256, "batch size of the evaluations")
    eval_train_max: int = setting(1000, "also report retrieval on up to this many training pairs (0: never)")
    zero_shot_templates: tuple[str, ...] = setting(("a picture of {}.", "a drawing of {}.", "{}"),
                                                   "prompt templates of zero-shot classification")
    log_every: int = setting(10, "steps between log lines")
    checkpoint_every: int = setting(0, "steps between mid-epoch checkpoints (0: at epoch ends only)")

    def __post_init__(self) -> None:
        problems = []
        for name, allowed in (("loss", LOSSES), ("optimizer", OPTIMIZERS), ("sched", SCHEDULES),
                              ("precision", PRECISIONS), ("resize", RESIZES)):
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
        return str(value) if hint is str or get_origin(hint) is Literal else value
    except (TypeError, ValueError) as exc:
        raise ContrastiveError(f"config field {name} expects {getattr(hint, '__name__', hint)}, got {value!r}") from exc


def known_configs() -> list[str]:
    return CONFIGS.names()


def load_config(name_or_path: str | Path) -> TrainConfig:
    """A named config (`configs/<name>.json`) or a JSON file; keys starting with "_" are notes and are skipped."""
    _, data = CONFIGS.resolve(name_or_path)  # an unknown name raises UnknownEntry listing the known ones
    return TrainConfig.from_dict({k: v for k, v in data.items() if not k.startswith("_")})
