"""Training an aesthetic scorer on rated images, stage by stage, with exact resume.

    config = TrainConfig(data="ratings.csv", out="runs/a", tower="tiny", schedule="seed000")
    result = ScorerTrainer(config).run()          # or .run(resume=True) to continue runs/a
    scorer = load_scorer("runs/a")                # the final scorer, as `curation.scorer` loads any checkpoint

The run folder holds `config.json` (resolved settings), `metrics.json` (one record per epoch, the best epoch, the data
report), `steps.csv` (loss per step), `plots/curves.png`, `checkpoints/last.pt` (everything needed to continue:
model, optimizer, LR scheduler, RNG states, epoch/batch/step, history) and the scorers `scorer/` (final) and `best/`
(best validation PLCC). metrics.json and steps.csv are rewritten every epoch, the plot at the end of each stage and of
the run. Logging goes through `logging`; progress reaches the caller through `on_event`.

Data order is a function of (seed, epoch) alone and every RNG state travels with the checkpoint, so a run resumed
from any checkpoint takes exactly the steps the uninterrupted run would have taken.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from curation.scorer.heads import DistributionHead, HeadConfig, load_public_head
from curation.scorer.model import AestheticScorer
from curation.scorer.public import public_head_entry, public_heads
from curation.scorer.ratings import distribution_mean
from curation.scorer.tower import ClipImageTower, build_tower, load_tower_perceptor, parse_tower_spec
from generator.common.fields import known_keys
from training.errors import TrainingError
from training.scorer.data import (
    DataReport,
    RatedImageDataset,
    RatedSample,
    collate_rated,
    load_ratings,
    split_samples,
)
from training.scorer.losses import group_weights, make_loss, mixed_loss_terms
from training.scorer.metrics import evaluate
from training.scorer.schedule import EpochPlan, Schedule, Stage, load_schedule, with_head_warmup

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"
# "distribution": Linear/MLP -> softmax over 1..10 (default); "logits-per-text": seed 000's variant, CLIP's logits
# against ten rating prompts (curation.scorer.text_head)
HEADS = ("distribution", "logits-per-text")
# Settings that may differ between a run and its resumption; every other setting must match.
RESUMABLE_OVERRIDES = frozenset({"out", "device", "num_workers", "max_steps", "checkpoint_every_steps"})


# Settings added after runs were first saved; a saved run without them used their defaults.
_ADDED_SETTINGS = frozenset({"head", "rating_prompts", "learn_prompts"})


@dataclass(frozen=True)
class TrainConfig:
    data: str  # ratings .csv/.jsonl or a folder of rating subfolders 1..10
    out: str  # run folder
    tower: str = "tiny"  # "tiny", "ViT-B-32" (random) or "ViT-B-32:openai" / "ViT-B-32:/path/weights.pt"
    schedule: str = "seed000"  # registry name or a .json path
    epochs_scale: float = 1.0
    batch_size: int = 32
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    head_hidden: tuple[int, ...] = ()
    head_dropout: float = 0.0
    head: str = "distribution"  # one of HEADS
    rating_prompts: tuple[str, ...] = ()  # logits-per-text: ten prompts for ratings 1..10 (empty: the default ten)
    learn_prompts: bool = True  # logits-per-text: the prompt embeddings learn (False: fixed as the text tower gave)
    init_head: str | None = None  # a public head name/path, or "auto": the LAION head for this tower
    head_warmup_epochs: int = 0  # seed 001: head-only epochs (tower frozen) in front of the schedule
    head_warmup_lr: float = 1e-3
    group_column: str | None = None  # balance the loss over this group (theme, source, ...)
    group_power: float = 1.0  # 1: every group weighs the same; 0.5: half-way
    grad_clip: float | None = None  # the seed recipe does not clip
    skip_missing: bool = False
    checkpoint_every_steps: int = 0  # also checkpoint inside epochs (0: at the end of each epoch only)
    max_steps: int | None = None  # stop (with a checkpoint) after this many steps in total
    name: str | None = None  # the scorer's name (default: the run folder's name)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise TrainingError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_steps is not None and self.max_steps < 0:
            raise TrainingError(f"max_steps must be >= 0, got {self.max_steps}")
        if self.head not in HEADS:
            raise TrainingError(f"unknown head {self.head!r}; known: {', '.join(HEADS)}")
        if self.rating_prompts and (len(self.rating_prompts) != 10 or not all(p.strip() for p in self.rating_prompts)):
            raise TrainingError(f"rating_prompts must be ten non-empty prompts for ratings 1..10, got "
                                f"{len(self.rating_prompts)}: {list(self.rating_prompts)!r}")
        if self.head != "logits-per-text" and (self.rating_prompts or not self.learn_prompts):
            raise TrainingError("rating_prompts and learn_prompts belong to the logits-per-text head; add "
                                "--head logits-per-text or drop them")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["head_hidden"] = list(self.head_hidden)
        data["rating_prompts"] = list(self.rating_prompts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        values = known_keys(data, cls, TrainingError, "training settings")
        values["head_hidden"] = tuple(values.get("head_hidden", ()))
        values["rating_prompts"] = tuple(values.get("rating_prompts", ()))
        return cls(**values)


@dataclass
class TrainEvent:
    """What `on_event` receives: kind "start" (total_steps known), "step", "epoch" (record) or "end"."""

    kind: str
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    loss: float = math.nan
    record: dict[str, Any] | None = None


@dataclass
class TrainResult:
    out: Path
    scorer_path: Path
    best_path: Path | None
    epochs: list[dict[str, Any]]
    best: dict[str, Any] | None
    finished: bool
    data: dict[str, Any] = field(default_factory=dict)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled sample order of one epoch: a function of (seed, epoch) only, so resuming needs no RNG for it."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


class ScorerTrainer:
    """Trains an `AestheticScorer` on rated images with a `Schedule` (see the module docstring)."""

    def __init__(self, config: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None) -> None:
        self.config = config
        self.on_event = on_event
        self.out = Path(config.out)
        self.device = resolve_device(config.device)

    # ---------------------------------------------------------------------------------------------------- setup

    def _schedule(self) -> Schedule:
        schedule = load_schedule(self.config.schedule).scaled(self.config.epochs_scale)
        return with_head_warmup(schedule, self.config.head_warmup_epochs, lr=self.config.head_warmup_lr)

    def _data(self) -> tuple[list[RatedSample], list[RatedSample], DataReport]:
        group_cols = [self.config.group_column] if self.config.group_column else None
        samples, report = load_ratings(self.config.data, group_columns=group_cols,
                                       skip_missing=self.config.skip_missing)
        train, val = split_samples(samples, self.config.val_fraction, self.config.seed)
        if not train:
            raise TrainingError(f"no training samples left after holding out {len(val)} for validation")
        return train, val, report

    def _build_model(self) -> AestheticScorer:
        cfg = self.config
        # why: a logits-per-text head needs the text side of the same CLIP; load it once for both sides
        perceptor = load_tower_perceptor(cfg.tower) if cfg.head == "logits-per-text" else None
        tower = build_tower(cfg.tower, perceptor=perceptor)
        name = cfg.name or self.out.name or "scorer"
        if cfg.head == "logits-per-text":
            return self._text_model(tower, name, perceptor)
        head_spec = cfg.init_head
        if head_spec == "auto":
            head_spec = self._auto_head(cfg.tower)
        if head_spec:
            if cfg.head_hidden:
                raise TrainingError("--init-head takes the head's layout from the public head; drop --head-hidden")
            head = DistributionHead.from_public(self._public_head_for(head_spec, cfg.tower, tower.embed_dim))
        else:
            head = DistributionHead(HeadConfig(in_dim=tower.embed_dim, hidden=tuple(cfg.head_hidden),
                                               dropout=cfg.head_dropout))
        return AestheticScorer(tower, head, name=name, version="training").to(self.device)

    def _text_model(self, tower: ClipImageTower, name: str, perceptor: Any | None = None) -> AestheticScorer:
        from curation.scorer.text_head import build_text_head

        cfg = self.config
        if cfg.init_head or cfg.head_hidden or cfg.head_dropout:
            raise TrainingError("the logits-per-text head is CLIP's text side: drop --init-head, --head-hidden and "
                                "--head-dropout")
        head = build_text_head(tower, cfg.rating_prompts or None, learn_prompts=cfg.learn_prompts, perceptor=perceptor)
        return AestheticScorer(tower, head, name=name, version="training").to(self.device)

    @staticmethod
    def _auto_head(tower_spec: str) -> str | None:
        for entry in public_heads().values():
            if entry.clip == tower_spec and entry.format == "laion-linear":
                return entry.name
        log.info("no public head matches tower %s; the head starts from random weights", tower_spec)
        return None

    @staticmethod
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

    # ---------------------------------------------------------------------------------------------------- pieces

    def _set_trainable(self, model: AestheticScorer, stage: Stage) -> list[nn.Parameter]:
        head_only = stage.train == "head"
        for p in model.tower.parameters():
            p.requires_grad_(not head_only)
        for p in model.head.parameters():
            p.requires_grad_(True)
        return [p for p in model.parameters() if p.requires_grad]

    @staticmethod
    def _optimizer(stage: Stage, params: Sequence[nn.Parameter]) -> torch.optim.Optimizer:
        kwargs: dict[str, Any] = {"lr": stage.lr}
        if stage.weight_decay is not None:
            kwargs["weight_decay"] = stage.weight_decay
        if stage.optimizer == "adamw":
            return torch.optim.AdamW(params, **kwargs)
        if stage.optimizer == "adam":
            return torch.optim.Adam(params, **kwargs)
        return torch.optim.SGD(params, momentum=stage.momentum, **kwargs)

    @staticmethod
    def _lr_scheduler(optimizer: torch.optim.Optimizer, stage: Stage,
                      total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
        warmup, decay = stage.warmup_steps, stage.lr_decay

        def factor(step: int) -> float:
            if warmup and step < warmup:
                return (step + 1) / warmup
            if decay == "cosine":
                progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
                return 0.5 * (1.0 + math.cos(math.pi * progress))
            return 1.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _loader(self, dataset: RatedImageDataset, batches: Sequence[Sequence[int]]) -> DataLoader:
        # its own generator: a loader drawing its worker seed from the global RNG would shift dropout after a resume
        return DataLoader(dataset, batch_sampler=list(batches), collate_fn=collate_rated,
                          num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.config.seed))

    def _batches(self, n: int, epoch: int) -> list[list[int]]:
        order = epoch_order(n, self.config.seed, epoch)
        size = self.config.batch_size
        return [order[i:i + size] for i in range(0, n, size)]

    def _loss(self, model: AestheticScorer, batch: dict[str, Any], loss_name: str, head_only: bool,
              loss_fn: nn.Module, on_distributions: bool) -> tuple[torch.Tensor, dict[str, float]]:
        images = batch["image"].to(self.device, non_blocking=True)
        weight = batch["weight"].to(self.device)
        if head_only:
            with torch.no_grad():
                embeddings = model.embed(images)
            probs = model.forward_embeddings(embeddings)
        else:
            probs = model(images)
        if on_distributions:
            loss = loss_fn(probs, batch["distribution"].to(self.device), weight=weight)
            return loss, {}
        scores = distribution_mean(probs)
        target = batch["score"].to(self.device)
        loss = loss_fn(scores, target, weight=weight)
        terms = {}
        if loss_name == "mixed":
            terms = {k: float(v) for k, v in mixed_loss_terms(scores.detach(), target, weight=weight).items()
                     if k != "loss"}
        return loss, terms

    @torch.no_grad()
    def _evaluate(self, model: AestheticScorer, dataset: RatedImageDataset, loss_name: str,
                  report: DataReport) -> dict[str, Any] | None:
        if len(dataset) == 0:
            return None
        was_training = model.training
        model.eval()
        preds, targets, dists, probs_all, groups = [], [], [], [], []
        batches = [list(range(i, min(i + self.config.batch_size, len(dataset))))
                   for i in range(0, len(dataset), self.config.batch_size)]
        for batch in self._loader(dataset, batches):
            self._note_failures(batch, dataset, report)
            if "image" not in batch:
                continue
            probs = model(batch["image"].to(self.device))
            probs_all.append(probs.cpu())
            preds.append(distribution_mean(probs).cpu())
            targets.append(batch["score"])
            dists.append(batch["distribution"])
            groups.extend(dataset.samples[i].groups.get(self.config.group_column or "", "")
                          for i in batch["index"].tolist())
        model.train(was_training)
        if not preds:
            return None
        pred, target = torch.cat(preds), torch.cat(targets)
        metrics: dict[str, Any] = evaluate(pred, target)
        loss_fn, on_dist = make_loss(loss_name)
        metrics["loss"] = float(loss_fn(torch.cat(probs_all), torch.cat(dists)) if on_dist else loss_fn(pred, target))
        if self.config.group_column:
            per_group = {}
            for g in sorted(set(groups)):
                mask = torch.tensor([x == g for x in groups])
                metrics_g = evaluate(pred[mask], target[mask])
                per_group[g] = {k: metrics_g[k] for k in ("plcc", "mse", "n")}
            metrics["groups"] = per_group
        return metrics

    @staticmethod
    def _note_failures(batch: dict[str, Any], dataset: RatedImageDataset, report: DataReport) -> None:
        for index, error in batch["failed"]:
            path = str(dataset.samples[index].image)
            if path not in report.unreadable:
                log.warning("skipping unreadable image %s (%s)", path, error)
            report.unreadable[path] = error

    def _emit(self, event: TrainEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # ---------------------------------------------------------------------------------------------------- state

    def _checkpoint_path(self) -> Path:
        return self.out / "checkpoints" / CHECKPOINT_NAME

    def _save_checkpoint(self, state: dict[str, Any]) -> None:
        path = self._checkpoint_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(state, tmp)
        tmp.replace(path)

    def _rng_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    @staticmethod
    def _restore_rng(state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    def _check_resumable(self, saved: dict[str, Any]) -> None:
        mine = self.config.to_dict()
        # runs saved before a setting existed ran with its default
        defaults = TrainConfig(data="", out="").to_dict()
        saved = {**{k: defaults[k] for k in _ADDED_SETTINGS}, **saved}
        differing = sorted(k for k in set(mine) | set(saved)
                           if k not in RESUMABLE_OVERRIDES and mine.get(k) != saved.get(k))
        if differing:
            details = ", ".join(f"{k}: {saved.get(k)!r} -> {mine.get(k)!r}" for k in differing)
            raise TrainingError(f"cannot resume {self.out}: settings differ from the checkpoint ({details}); "
                                "resume with the same settings or start a new run folder")

    # ---------------------------------------------------------------------------------------------------- run

    def run(self, resume: bool = False) -> TrainResult:
        cfg = self.config
        schedule = self._schedule()
        plan = schedule.plan()
        train, val, report = self._data()
        if cfg.group_column:
            weights = group_weights([s.groups.get(cfg.group_column, "") for s in train], cfg.group_power)
        else:
            weights = None
        checkpoint: dict[str, Any] | None = None
        if resume:
            if not self._checkpoint_path().is_file():
                raise FileNotFoundError(f"nothing to resume: {self._checkpoint_path()} does not exist")
            checkpoint = torch.load(self._checkpoint_path(), map_location="cpu", weights_only=True)
            self._check_resumable(checkpoint["config"])
        elif self._checkpoint_path().is_file():
            raise TrainingError(f"{self.out} already holds a run; resume it (--resume) or choose another --out")

        torch.manual_seed(cfg.seed)
        model = self._build_model()
        image_size = model.image_size
        train_set = RatedImageDataset(train, image_size, weights)
        val_set = RatedImageDataset(val, image_size)
        batches_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
        total_steps = batches_per_epoch * len(plan)

        self.out.mkdir(parents=True, exist_ok=True)
        resolved = {"train": cfg.to_dict(), "schedule": schedule.to_dict(), "tower": model.tower.config.to_dict(),
                    "head": model.config_dict()["head"], "device": str(self.device),
                    "data": {"train": len(train), "val": len(val), **report.to_dict()},
                    "versions": _versions()}
        _write_json(self.out / "config.json", resolved)

        history: dict[str, Any] = {"epochs": [], "steps": [], "best": None}
        start_epoch, start_batch, step = 0, 0, 0
        stage_state: dict[str, Any] | None = None
        if checkpoint is not None:
            try:
                model.load_state_dict(checkpoint["model"], strict=True)
            except RuntimeError as exc:
                raise TrainingError(f"{self._checkpoint_path()} does not fit this model: "
                                    f"{' '.join(str(exc).split())}") from exc
            history = checkpoint["history"]
            start_epoch, start_batch, step = (checkpoint["progress"][k] for k in ("epoch", "batch", "step"))
            stage_state = checkpoint.get("stage_state")
            report.unreadable.update(checkpoint.get("unreadable", {}))
            log.info("resuming %s at epoch %d, batch %d (step %d)", self.out, start_epoch + 1, start_batch, step)

        self._emit(TrainEvent("start", step=step, total_steps=total_steps))
        log.info("training %s on %d images (%d held out) with %s for %d epochs, %d steps, on %s", cfg.tower,
                 len(train), len(val), schedule.name, len(plan), total_steps, self.device)

        optimizer: torch.optim.Optimizer | None = None
        lr_sched: torch.optim.lr_scheduler.LambdaLR | None = None
        current_stage = -1
        finished = True
        model.train()
        rng_restored = checkpoint is None
        for ep in plan[start_epoch:]:
            stage = schedule.stages[ep.stage_index]
            if ep.stage_index != current_stage:
                params = self._set_trainable(model, stage)
                optimizer = self._optimizer(stage, params)
                lr_sched = self._lr_scheduler(optimizer, stage, stage.epochs * batches_per_epoch)
                current_stage = ep.stage_index
                if stage_state is not None and stage_state["stage_index"] == ep.stage_index:
                    optimizer.load_state_dict(stage_state["optimizer"])
                    lr_sched.load_state_dict(stage_state["lr_scheduler"])
                stage_state = None
                log.info("stage %s: %s lr %g, %d epoch(s), losses %s, training %s", stage.name, stage.optimizer,
                         stage.lr, stage.epochs, "/".join(stage.losses), stage.train)
            assert optimizer is not None and lr_sched is not None
            if not rng_restored:  # after building (which may draw random numbers), as at the moment of saving
                self._restore_rng(checkpoint["rng"])  # type: ignore[index]
                rng_restored = True
            loss_fn, on_distributions = make_loss(ep.loss)
            loss_fn = loss_fn.to(self.device)
            head_only = stage.train == "head"
            model.tower.train(not head_only)
            batches = self._batches(len(train_set), ep.epoch)
            first = start_batch if ep.epoch == start_epoch else 0
            epoch_loss, epoch_n, epoch_start = 0.0, 0, time.monotonic()
            skipped_before = len(report.unreadable)
            stopped = False
            for b, batch in enumerate(self._loader(train_set, batches[first:]), start=first):
                self._note_failures(batch, train_set, report)
                if "image" in batch:
                    loss, terms = self._loss(model, batch, ep.loss, head_only, loss_fn, on_distributions)
                    if not torch.isfinite(loss):
                        raise TrainingError(f"loss {ep.loss} became {loss.item()} at epoch {ep.epoch + 1}, step "
                                            f"{step + 1}: lower the learning rate of stage {stage.name!r} or set "
                                            "grad_clip")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip:
                        nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                                 cfg.grad_clip)
                    optimizer.step()
                    value = float(loss.detach())
                    n = int(batch["image"].shape[0])
                    epoch_loss, epoch_n = epoch_loss + value * n, epoch_n + n
                    history["steps"].append({"step": step + 1, "epoch": ep.epoch + 1, "loss_name": ep.loss,
                                             "loss": value, "lr": lr_sched.get_last_lr()[0], **terms})
                    self._emit(TrainEvent("step", step=step + 1, total_steps=total_steps, epoch=ep.epoch + 1,
                                          loss=value))
                lr_sched.step()
                step += 1
                at_end = b + 1 == len(batches)
                if cfg.max_steps is not None and step >= cfg.max_steps and not at_end:
                    stopped = True
                if not at_end and (stopped or (cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0)):
                    self._save_checkpoint(self._state(model, optimizer, lr_sched, ep, ep.epoch, b + 1, step, history,
                                                      report))
                if stopped:
                    break
            if stopped:
                finished = False
                break
            record = self._end_epoch(model, val_set, ep, stage, lr_sched, epoch_loss, epoch_n,
                                     len(report.unreadable) - skipped_before, time.monotonic() - epoch_start,
                                     history, report)
            self._save_checkpoint(self._state(model, optimizer, lr_sched, ep, ep.epoch + 1, 0, step, history, report))
            self._emit(TrainEvent("epoch", step=step, total_steps=total_steps, epoch=ep.epoch + 1, record=record))
            if cfg.max_steps is not None and step >= cfg.max_steps and ep.epoch + 1 < len(plan):
                finished = False
                break

        scorer_path = self.out / "scorer"
        model.version = f"epoch{len(history['epochs'])}"
        model.meta = {"run": str(self.out.name), "schedule": schedule.name, "tower": cfg.tower,
                      "epochs": len(history["epochs"]), "steps": step, "data": str(cfg.data),
                      "val": history["epochs"][-1]["val"] if history["epochs"] else None, "finished": finished}
        model.save(scorer_path)
        best_path = self.out / "best"
        self._write_outputs(history, report)
        self._emit(TrainEvent("end", step=step, total_steps=total_steps, epoch=len(history["epochs"])))
        return TrainResult(out=self.out, scorer_path=scorer_path, best_path=best_path if best_path.is_dir() else None,
                           epochs=history["epochs"], best=history["best"], finished=finished,
                           data=report.to_dict())

    def _state(self, model: AestheticScorer, optimizer: torch.optim.Optimizer,
               lr_sched: torch.optim.lr_scheduler.LambdaLR, ep: EpochPlan, next_epoch: int, next_batch: int,
               step: int, history: dict[str, Any], report: DataReport) -> dict[str, Any]:
        plan_stage = ep.stage_index
        return {"format": "dstrtd.scorer-training", "config": self.config.to_dict(),
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                # the stage the next batch belongs to keeps its optimizer; a new stage builds a fresh one
                "stage_state": {"stage_index": plan_stage, "optimizer": optimizer.state_dict(),
                                "lr_scheduler": lr_sched.state_dict()},
                "rng": self._rng_state(), "progress": {"epoch": next_epoch, "batch": next_batch, "step": step},
                "history": history, "unreadable": dict(report.unreadable)}

    def _end_epoch(self, model: AestheticScorer, val_set: RatedImageDataset, ep: EpochPlan, stage: Stage,
                   lr_sched: torch.optim.lr_scheduler.LambdaLR, epoch_loss: float, epoch_n: int, skipped: int,
                   seconds: float, history: dict[str, Any], report: DataReport) -> dict[str, Any]:
        val = self._evaluate(model, val_set, ep.loss, report)
        record = {"epoch": ep.epoch + 1, "stage": stage.name, "optimizer": stage.optimizer,
                  "lr": lr_sched.get_last_lr()[0], "loss_name": ep.loss, "train": stage.train,
                  "train_loss": epoch_loss / epoch_n if epoch_n else math.nan, "samples": epoch_n,
                  "skipped_images": skipped, "seconds": round(seconds, 3), "val": val}
        history["epochs"].append(record)
        if val is not None and math.isfinite(val["plcc"]):
            best = history["best"]
            if best is None or val["plcc"] > best["val"]["plcc"]:
                history["best"] = record
                model.version = f"epoch{ep.epoch + 1}"
                model.meta = {"run": str(self.out.name), "epoch": ep.epoch + 1, "val": val}
                model.save(self.out / "best")
        if val:
            log.info("epoch %d/%s %s: train %s %.4f | val PLCC %.4f SRCC %.4f MSE %.4f acc@5 %.3f", ep.epoch + 1,
                     stage.name, ep.loss, ep.loss, record["train_loss"], val["plcc"], val["srcc"], val["mse"],
                     val["acc5"])
        else:
            log.info("epoch %d/%s %s: train %s %.4f (no validation set)", ep.epoch + 1, stage.name, ep.loss,
                     ep.loss, record["train_loss"])
        last_of_stage = ep.epoch_in_stage + 1 == stage.epochs
        self._write_outputs(history, report, plot=last_of_stage)
        return record

    def _write_outputs(self, history: dict[str, Any], report: DataReport, plot: bool = True) -> None:
        _write_json(self.out / "metrics.json", {"epochs": history["epochs"], "best": history["best"],
                                                "data": report.to_dict()})
        steps_path = self.out / "steps.csv"
        tmp = steps_path.with_name(".steps.csv.tmp")
        keys = ["step", "epoch", "loss_name", "loss", "lr", "l1", "l2", "l3"]
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(history["steps"])
        tmp.replace(steps_path)
        if not plot:
            return
        try:
            from training.scorer.plots import plot_curves

            plot_curves(history, self.out / "plots" / "curves.png")
        except Exception as exc:  # a plot must never stop training
            log.warning("could not draw the training curves: %s", exc)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _versions() -> dict[str, str]:
    import open_clip

    return {"torch": torch.__version__, "open_clip": open_clip.__version__}


def train_scorer(config: TrainConfig, resume: bool = False,
                 on_event: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    """Train (or continue) a scorer; see `ScorerTrainer`."""
    return ScorerTrainer(config, on_event).run(resume=resume)


