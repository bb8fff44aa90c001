"""Training an aesthetic scorer on rated images, stage by stage, with exact resume.

    config = TrainConfig(data="ratings.csv", out="runs/a", tower="tiny", schedule="seed000")
    result = ScorerTrainer(config).run()          # or .run(resume=True) to continue runs/a
    scorer = load_scorer("runs/a")                # the final scorer (`curation.scorer.checkpoint` loads any)

The run folder holds `config.json` (resolved settings), `metrics.json` (one record per epoch, the best epoch, the data
report), `steps.csv` (loss per step), `plots/curves.png`, `checkpoints/last.pt` (everything needed to continue:
model, optimizer, LR scheduler, RNG states, epoch/batch/step, history) and the scorers `scorer/` (final) and `best/`
(best validation PLCC). metrics.json and steps.csv are rewritten every epoch, the plot at the end of each stage and of
the run. Logging goes through `logging`; progress reaches the caller through `on_event`.

Data order is a function of (seed, epoch) alone and every RNG state travels with the checkpoint
(`training.runstate`), so a run resumed from any checkpoint takes exactly the steps the uninterrupted run would have
taken. What the run is built from (schedule, data, model, optimizers) is `training.scorer.setup`.
"""

from __future__ import annotations

import csv
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from curation.scorer.model import AestheticScorer
from curation.scorer.ratings import distribution_mean
from generator.common.device import resolve_device
from generator.common.files import atomic_path, write_json_atomic
from training import runstate
from training.errors import TrainingError
from training.runstate import Progress
from training.scorer.config import ADDED_SETTINGS, RESUMABLE_OVERRIDES, TrainConfig
from training.scorer.data import DataReport, RatedImageDataset, collate_rated
from training.scorer.losses import group_weights, make_loss, mixed_loss_terms
from training.scorer.metrics import validation_metrics
from training.scorer.schedule import EpochPlan, Schedule, Stage
from training.scorer.setup import (
    build_lr_scheduler,
    build_model,
    build_optimizer,
    epoch_batches,
    run_data,
    run_schedule,
    set_trainable,
)

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"
CHECKPOINT_KIND = "dstrtd.scorer-training"


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


@dataclass
class _Run:
    """One run's state while the epochs go by (what `_state` saves and `_resume` puts back)."""

    schedule: Schedule
    plan: list[EpochPlan]
    model: AestheticScorer
    train_set: RatedImageDataset
    val_set: RatedImageDataset
    report: DataReport
    batches_per_epoch: int
    history: dict[str, Any] = field(default_factory=lambda: {"epochs": [], "steps": [], "best": None})
    progress: Progress = field(default_factory=Progress)
    stage_state: dict[str, Any] | None = None  # the saved optimizer of the stage the next batch belongs to
    rng: dict[str, Any] | None = None  # RNG states to restore before the first step (on resume)

    @property
    def total_steps(self) -> int:
        return self.batches_per_epoch * len(self.plan)


class ScorerTrainer:
    """Trains an `AestheticScorer` on rated images with a `Schedule` (see the module docstring)."""

    def __init__(self, config: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None) -> None:
        self.config = config
        self.on_event = on_event
        self.out = Path(config.out)
        self.device = resolve_device(config.device)

    # ---------------------------------------------------------------------------------------------------- run

    def run(self, resume: bool = False) -> TrainResult:
        run = self._prepare(resume)
        with warnings.catch_warnings():  # why: a batch of unreadable images steps the schedule but not the optimiser
            warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler.step\(\)` before", UserWarning)
            finished = self._train(run)
        cfg, history, step = self.config, run.history, run.progress.step
        scorer_path = self.out / "scorer"
        run.model.version = f"epoch{len(history['epochs'])}"
        run.model.meta = {"run": str(self.out.name), "schedule": run.schedule.name, "tower": cfg.tower,
                          "epochs": len(history["epochs"]), "steps": step, "data": str(cfg.data),
                          "val": history["epochs"][-1]["val"] if history["epochs"] else None, "finished": finished}
        run.model.save(scorer_path)
        best_path = self.out / "best"
        self._write_outputs(history, run.report)
        self._emit(TrainEvent("end", step=step, total_steps=run.total_steps, epoch=len(history["epochs"])))
        return TrainResult(out=self.out, scorer_path=scorer_path, best_path=best_path if best_path.is_dir() else None,
                           epochs=history["epochs"], best=history["best"], finished=finished,
                           data=run.report.to_dict())

    def _prepare(self, resume: bool) -> _Run:
        """Everything before the first step: data, model, config.json, and on resume the checkpoint's state."""
        cfg = self.config
        schedule = run_schedule(cfg)
        train, val, report = run_data(cfg)
        weights = None
        if cfg.group_column:
            weights = group_weights([s.groups.get(cfg.group_column, "") for s in train], cfg.group_power)
        saved: dict[str, Any] | None = None
        if resume:
            if not self._checkpoint_path().is_file():
                raise FileNotFoundError(f"nothing to resume: {self._checkpoint_path()} does not exist")
            saved = runstate.load_checkpoint(self._checkpoint_path(), CHECKPOINT_KIND)
            self._check_resumable(saved["config"])
        elif self._checkpoint_path().is_file():
            raise TrainingError(f"{self.out} already holds a run; resume it (--resume) or choose another --out")

        torch.manual_seed(cfg.seed)
        model = build_model(cfg, cfg.name or self.out.name or "scorer", self.device)
        train_set = RatedImageDataset(train, model.image_size, weights)
        run = _Run(schedule=schedule, plan=schedule.plan(), model=model, train_set=train_set,
                   val_set=RatedImageDataset(val, model.image_size), report=report,
                   batches_per_epoch=math.ceil(len(train_set) / cfg.batch_size))

        self.out.mkdir(parents=True, exist_ok=True)
        resolved = {"train": cfg.to_dict(), "schedule": schedule.to_dict(), "tower": model.tower.config.to_dict(),
                    "head": model.config_dict()["head"], "device": str(self.device),
                    "data": {"train": len(train), "val": len(val), **report.to_dict()},
                    "versions": runstate.library_versions()}
        write_json_atomic(self.out / "config.json", resolved)
        if saved is not None:
            self._resume(run, saved)
        self._emit(TrainEvent("start", step=run.progress.step, total_steps=run.total_steps))
        log.info("training %s on %d images (%d held out) with %s for %d epochs, %d steps, on %s", cfg.tower,
                 len(train), len(val), schedule.name, len(run.plan), run.total_steps, self.device)
        return run

    def _resume(self, run: _Run, saved: dict[str, Any]) -> None:
        try:
            run.model.load_state_dict(saved["model"], strict=True)
        except RuntimeError as exc:
            raise TrainingError(f"{self._checkpoint_path()} does not fit this model: "
                                f"{' '.join(str(exc).split())}") from exc
        run.history = saved["history"]
        run.progress = Progress.from_dict(saved["progress"])
        run.stage_state = saved.get("stage_state")
        run.rng = saved["rng"]
        run.report.unreadable.update(saved.get("unreadable", {}))
        log.info("resuming %s at epoch %d, batch %d (step %d)", self.out, run.progress.epoch + 1, run.progress.batch,
                 run.progress.step)

    def _train(self, run: _Run) -> bool:
        """The epochs from `run.progress` on; False when `max_steps` stopped the run early."""
        cfg, model, history, report = self.config, run.model, run.history, run.report
        start_epoch, start_batch, step = run.progress.epoch, run.progress.batch, run.progress.step
        optimizer: torch.optim.Optimizer | None = None
        lr_sched: torch.optim.lr_scheduler.LambdaLR | None = None
        current_stage = -1
        model.train()
        for ep in run.plan[start_epoch:]:
            stage = run.schedule.stages[ep.stage_index]
            if ep.stage_index != current_stage:
                optimizer = build_optimizer(stage, set_trainable(model, stage))
                lr_sched = build_lr_scheduler(optimizer, stage, stage.epochs * run.batches_per_epoch)
                current_stage = ep.stage_index
                if run.stage_state is not None and run.stage_state["stage_index"] == ep.stage_index:
                    optimizer.load_state_dict(run.stage_state["optimizer"])
                    lr_sched.load_state_dict(run.stage_state["lr_scheduler"])
                run.stage_state = None
                log.info("stage %s: %s lr %g, %d epoch(s), losses %s, training %s", stage.name, stage.optimizer,
                         stage.lr, stage.epochs, "/".join(stage.losses), stage.train)
            assert optimizer is not None and lr_sched is not None
            if run.rng is not None:  # after building (which may draw random numbers), as at the moment of saving
                runstate.restore_rng(run.rng)
                run.rng = None
            loss_fn, on_distributions = make_loss(ep.loss)
            loss_fn = loss_fn.to(self.device)
            head_only = stage.train == "head"
            model.tower.train(not head_only)
            batches = epoch_batches(len(run.train_set), cfg.batch_size, cfg.seed, ep.epoch)
            first = start_batch if ep.epoch == start_epoch else 0
            epoch_loss, epoch_n, epoch_start = 0.0, 0, time.monotonic()
            skipped_before = len(report.unreadable)
            stopped = False
            for b, batch in enumerate(self._loader(run.train_set, batches[first:]), start=first):
                self._note_failures(batch, run.train_set, report)
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
                    self._emit(TrainEvent("step", step=step + 1, total_steps=run.total_steps, epoch=ep.epoch + 1,
                                          loss=value))
                lr_sched.step()
                step += 1
                at_end = b + 1 == len(batches)
                if cfg.max_steps is not None and step >= cfg.max_steps and not at_end:
                    stopped = True
                if not at_end and (stopped or (cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0)):
                    run.progress = Progress(ep.epoch, b + 1, step)
                    self._save(run, optimizer, lr_sched, ep)
                if stopped:
                    return False
            if epoch_n == 0 and first < len(batches):  # every image of the epoch was unreadable
                raise report.nothing_read(ep.epoch + 1)
            record = self._end_epoch(run, ep, stage, lr_sched, epoch_loss, epoch_n,
                                     len(report.unreadable) - skipped_before, time.monotonic() - epoch_start)
            run.progress = Progress(ep.epoch + 1, 0, step)
            self._save(run, optimizer, lr_sched, ep)
            self._emit(TrainEvent("epoch", step=step, total_steps=run.total_steps, epoch=ep.epoch + 1, record=record))
            if cfg.max_steps is not None and step >= cfg.max_steps and ep.epoch + 1 < len(run.plan):
                return False
        return True

    # ---------------------------------------------------------------------------------------------------- steps

    def _loader(self, dataset: RatedImageDataset, batches: Sequence[Sequence[int]]) -> DataLoader:
        # its own generator, seeded afresh for every loader: a loader drawing its worker seed from the global RNG
        # would shift dropout after a resume, and a fresh one has no state a checkpoint must carry
        return DataLoader(dataset, batch_sampler=list(batches), collate_fn=collate_rated,
                          num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.config.seed))

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
        return validation_metrics(torch.cat(preds), torch.cat(targets), torch.cat(probs_all), torch.cat(dists),
                                  loss_name, groups if self.config.group_column else None)

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

    def _check_resumable(self, saved: dict[str, Any]) -> None:
        defaults = TrainConfig(data="", out="").to_dict()
        runstate.check_settings(self.out, saved, self.config.to_dict(), RESUMABLE_OVERRIDES,
                                added={k: defaults[k] for k in ADDED_SETTINGS})

    def _save(self, run: _Run, optimizer: torch.optim.Optimizer, lr_sched: torch.optim.lr_scheduler.LambdaLR,
              ep: EpochPlan) -> None:
        """Checkpoint at `run.progress`. The stage the next batch belongs to keeps its optimizer; a new stage builds
        a fresh one."""
        state = runstate.checkpoint(CHECKPOINT_KIND, self.config.to_dict(), run.progress,
                                    model={k: v.detach().cpu() for k, v in run.model.state_dict().items()},
                                    stage_state={"stage_index": ep.stage_index, "optimizer": optimizer.state_dict(),
                                                 "lr_scheduler": lr_sched.state_dict()},
                                    history=run.history, unreadable=dict(run.report.unreadable))
        runstate.save_checkpoint(state, self._checkpoint_path())

    def _end_epoch(self, run: _Run, ep: EpochPlan, stage: Stage, lr_sched: torch.optim.lr_scheduler.LambdaLR,
                   epoch_loss: float, epoch_n: int, skipped: int, seconds: float) -> dict[str, Any]:
        model, history = run.model, run.history
        val = self._evaluate(model, run.val_set, ep.loss, run.report)
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
        self._write_outputs(history, run.report, plot=last_of_stage)
        return record

    def _write_outputs(self, history: dict[str, Any], report: DataReport, plot: bool = True) -> None:
        write_json_atomic(self.out / "metrics.json", {"epochs": history["epochs"], "best": history["best"],
                                                      "data": report.to_dict()})
        keys = ["step", "epoch", "loss_name", "loss", "lr", "l1", "l2", "l3"]
        with atomic_path(self.out / "steps.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(history["steps"])
        if not plot:
            return
        try:
            from training.scorer.plots import plot_curves

            plot_curves(history, self.out / "plots" / "curves.png")
        except Exception as exc:  # a plot must never stop training
            log.warning("could not draw the training curves: %s", exc)


def train_scorer(config: TrainConfig, resume: bool = False,
                 on_event: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    """Train (or continue) a scorer; see `ScorerTrainer`."""
    return ScorerTrainer(config, on_event).run(resume=resume)
