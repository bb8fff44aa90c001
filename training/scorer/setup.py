"""What a scorer run is built from before its first step: the schedule, the data, the model (with a public head or a
logits-per-text head), and for each stage its trainable parameters, optimizer and learning-rate schedule.

The epoch loop that uses them is `training.scorer.trainer`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from curation.scorer.heads import DistributionHead, HeadConfig, load_public_head
from curation.scorer.model import AestheticScorer
from curation.scorer.public import public_head_entry, public_heads
from curation.scorer.tower import ClipImageTower, build_tower, load_tower_perceptor, parse_tower_spec
from training.errors import TrainingError
from training.scorer.config import TrainConfig
from training.scorer.data import DataReport, RatedSample, load_ratings, split_samples
from training.scorer.schedule import Schedule, Stage, load_schedule, with_head_warmup

log = logging.getLogger(__name__)


def run_schedule(cfg: TrainConfig) -> Schedule:
    """The named schedule, scaled, with the head-only warm-up in front when asked."""
    schedule = load_schedule(cfg.schedule).scaled(cfg.epochs_scale)
    return with_head_warmup(schedule, cfg.head_warmup_epochs, lr=cfg.head_warmup_lr)


def run_data(cfg: TrainConfig) -> tuple[list[RatedSample], list[RatedSample], DataReport]:
    """(train, val, report) of the rated data."""
    group_cols = [cfg.group_column] if cfg.group_column else None
    samples, report = load_ratings(cfg.data, group_columns=group_cols, skip_missing=cfg.skip_missing)
    train, val = split_samples(samples, cfg.val_fraction, cfg.seed)
    if not train:
        raise TrainingError(f"no training samples left after holding out {len(val)} for validation")
    return train, val, report


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled sample order of one epoch: a function of (seed, epoch) only, so resuming needs no RNG for it."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    order = epoch_order(n, seed, epoch)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


# ---------------------------------------------------------------------------------------------------------- model

def build_model(cfg: TrainConfig, name: str, device: torch.device) -> AestheticScorer:
    """The scorer to train: the tower, and a distribution head (fresh or a public one) or a logits-per-text head."""
    # why: a logits-per-text head needs the text side of the same CLIP; load it once for both sides
    perceptor = load_tower_perceptor(cfg.tower) if cfg.head == "logits-per-text" else None
    tower = build_tower(cfg.tower, perceptor=perceptor)
    if cfg.head == "logits-per-text":
        return _text_model(cfg, tower, name, perceptor).to(device)
    head_spec = cfg.init_head
    if head_spec == "auto":
        head_spec = _auto_head(cfg.tower)
    if head_spec:
        if cfg.head_hidden:
            raise TrainingError("--init-head takes the head's layout from the public head; drop --head-hidden")
        head = DistributionHead.from_public(_public_head_for(head_spec, cfg.tower, tower.embed_dim))
    else:
        head = DistributionHead(HeadConfig(in_dim=tower.embed_dim, hidden=tuple(cfg.head_hidden),
                                           dropout=cfg.head_dropout))
    return AestheticScorer(tower, head, name=name, version="training").to(device)


def _text_model(cfg: TrainConfig, tower: ClipImageTower, name: str, perceptor: Any | None) -> AestheticScorer:
    from curation.scorer.text_head import build_text_head

    if cfg.init_head or cfg.head_hidden or cfg.head_dropout:
        raise TrainingError("the logits-per-text head is CLIP's text side: drop --init-head, --head-hidden and "
                            "--head-dropout")
    head = build_text_head(tower, cfg.rating_prompts or None, learn_prompts=cfg.learn_prompts, perceptor=perceptor)
    return AestheticScorer(tower, head, name=name, version="training")


def _auto_head(tower_spec: str) -> str | None:
    for entry in public_heads().values():
        if entry.clip == tower_spec and entry.format == "laion-linear":
            return entry.name
    log.info("no public head matches tower %s; the head starts from random weights", tower_spec)
    return None


def _public_head_for(spec: str, tower_spec: str, embed_dim: int):  # -> PublicHead
    path = Path(spec)
    if path.is_file():
        head = load_public_head(path)
    else:
        entry = public_head_entry(spec)
        model, pretrained = parse_tower_spec(tower_spec)
        if entry.clip != f"{model}:{pretrained}":
            if pretrained and Path(pretrained).is_file() and entry.clip.split(":")[0] == model:
                log.warning("cannot check that %s holds %s weights; using head %s on it", pretrained,
                            entry.clip, entry.name)
            else:
                raise TrainingError(f"head {entry.name} was trained on {entry.clip} embeddings, but the tower is "
                                    f"{tower_spec}: use --tower {entry.clip} or drop --init-head")
        from curation.scorer.public import fetch_public_head

        head = load_public_head(fetch_public_head(entry.name), entry.format)
    if head.in_dim != embed_dim:
        raise TrainingError(f"public head reads {head.in_dim}-d embeddings; tower {tower_spec} gives {embed_dim}")
    return head


# ---------------------------------------------------------------------------------------------------------- stages

def set_trainable(model: AestheticScorer, stage: Stage) -> list[nn.Parameter]:
    """Freeze the tower for a head-only stage (or thaw it); returns the parameters the stage trains."""
    head_only = stage.train == "head"
    for p in model.tower.parameters():
        p.requires_grad_(not head_only)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def build_optimizer(stage: Stage, params: Sequence[nn.Parameter]) -> torch.optim.Optimizer:
    kwargs: dict[str, Any] = {"lr": stage.lr}
    if stage.weight_decay is not None:
        kwargs["weight_decay"] = stage.weight_decay
    if stage.optimizer == "adamw":
        return torch.optim.AdamW(params, **kwargs)
    if stage.optimizer == "adam":
        return torch.optim.Adam(params, **kwargs)
    return torch.optim.SGD(params, momentum=stage.momentum, **kwargs)


def build_lr_scheduler(optimizer: torch.optim.Optimizer, stage: Stage,
                       total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over `stage.warmup_steps`, then constant or cosine to 0 at `total_steps` (the stage's)."""
    warmup, decay = stage.warmup_steps, stage.lr_decay

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if decay == "cosine":
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
