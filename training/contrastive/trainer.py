"""The training loop for contrastive image-text encoders, with its run folder.

A run folder holds `config.json` (the resolved settings, data and model facts), `metrics.json` (training terms
every `log_every` steps, evaluations per epoch, the final and best evaluations), `loss.png`, `metrics.png`,
`checkpoints/last.pt` (everything a resume needs: model, loss state, optimizer, scaler, step, RNG states),
`checkpoints/best-model.pt` (weights at the best held-out objective) and `encoder/` (the final model in open_clip's
local-dir format). Only rank 0 writes. Progress goes to `logging` and to the caller's `on_step` callback.

Resuming from `checkpoints/last.pt` continues at the next step with the same batch, learning rate, loss state and
RNG states (`training.runstate`), so an interrupted run and an uninterrupted one take the same steps.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from generator.common.files import write_json_atomic
from training import runstate
from training.contrastive import distributed
from training.contrastive.config import TrainConfig
from training.contrastive.data import (
    GlobalBatchSampler,
    ImageTextDataset,
    Manifest,
    Record,
    read_manifest,
    split_records,
    subset,
)
from training.contrastive.errors import ContrastiveError, NonFiniteTrainingLoss
from training.contrastive.evaluation import evaluate
from training.contrastive.losses import build_loss
from training.contrastive.models import Encoder, create_encoder, export_open_clip
from training.contrastive.optim import build_optimizer, parameter_groups
from training.contrastive.schedules import schedule_for, set_lr
from training.errors import ResumeRefused
from training.runstate import Progress

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "dstrtd-contrastive-2"  # 1: before RNG states were stored as tensors (refused: not weights_only)
# settings a resumed run may change; any other difference means a different run
RESUMABLE_CHANGES = {"epochs", "eval_every", "eval_batch_size", "eval_train_max", "log_every", "checkpoint_every",
                     "num_workers", "device"}


@dataclass(frozen=True)
class StepInfo:
    step: int  # updates done so far, this one included
    total_steps: int
    epoch: int  # 0-based
    epochs: int
    lr: float
    terms: dict[str, float]
    samples_per_s: float


@dataclass
class TrainResult:
    run_dir: Path | None
    steps: int
    epochs_done: int
    final: dict[str, Any]  # the last evaluation ({} when none ran)
    best: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False


def records_fingerprint(records: Sequence[Record]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(f"{r.image.name}\t{r.caption}\n".encode())
    return h.hexdigest()[:16]


class Trainer:
    """Builds everything a run needs from a `TrainConfig` and the data, and trains with `fit()`.

    `data` is a manifest path (see `data.read_manifest`), a `Manifest`, or records. `out` is the run folder
    (None: nothing is written, for searches and tests). With `resume`, a run folder holding
    `checkpoints/last.pt` continues from it (and one without starts afresh); without, such a folder is refused
    rather than overwritten.
    """

    def __init__(self, config: TrainConfig, data: str | Path | Manifest | Sequence[Record], out: str | Path | None,
                 *, resume: bool = False, dist_info: distributed.DistInfo | None = None) -> None:
        self.config = cfg = config
        self.dist = dist_info or distributed.current()
        self.out = Path(out) if out is not None else None
        if self.out is not None and not resume and self.checkpoint_path.is_file():
            raise ContrastiveError(f"{self.out} already holds a run; resume it (--resume) or choose another --out")
        self.device = distributed.rank_device(cfg.device, self.dist)
        torch.manual_seed(cfg.seed)

        manifest = data if isinstance(data, Manifest) else read_manifest(data) if isinstance(data, str | Path) \
            else None
        records = manifest.records if manifest is not None else list(data)  # type: ignore[arg-type]
        self.data_argument = str(Path(data).resolve()) if isinstance(data, str | Path) else None  # for --resume
        self.source = str(manifest.source) if manifest is not None else "records"
        self.skipped = len(manifest.skipped) if manifest is not None else 0
        if cfg.eval_data:
            train, val = list(records), read_manifest(cfg.eval_data).records
        elif cfg.val_fraction > 0:
            train, val = split_records(records, cfg.val_fraction, cfg.seed)
        else:
            train, val = list(records), []
        train = subset(train, cfg.data_fraction, cfg.seed)

        self.amp_dtype: torch.dtype | None = None
        if cfg.precision == "amp":
            if self.device.type == "cuda":
                # why including_emulation=False: pre-Ampere GPUs only emulate bf16; they get fp16 + GradScaler
                bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
                self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
            else:
                log.info("precision=amp runs on CUDA only; training in float32 on %s", self.device)
        learn_temp = cfg.loss == "clip" and cfg.learnable_temp
        self.encoder: Encoder = create_encoder(cfg.model, embed_dim=cfg.embed_dim, temperature=cfg.temp,
                                               learnable_temperature=learn_temp, seed=cfg.seed)
        enc = self.encoder

        def make(recs: Sequence[Record]) -> ImageTextDataset:
            return ImageTextDataset(recs, enc.tokenizer, enc.image_size, enc.mean, enc.std,
                                    background=cfg.background, resize=cfg.resize)

        self.train_set = make(train)
        self.val_set = make(val) if val else None
        self.train_eval_set = make(train[:cfg.eval_train_max]) if cfg.eval_train_max else None
        self.fingerprint = records_fingerprint(train)

        self.model: nn.Module = enc.model.to(self.device)
        self.loss_fn = build_loss(
            cfg.loss, len(self.train_set), temp=cfg.temp, sogclr_gamma=cfg.sogclr_gamma, tau_init=cfg.tau_init,
            rho_I=cfg.rho_I, rho_T=cfg.rho_T, eta_init=cfg.eta_init, beta_u=cfg.beta_u, tau_min=cfg.tau_min,
            tau_max=cfg.tau_max, tau_grad_clip=cfg.tau_grad_clip).to(self.device)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp: nn.Module = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        else:
            self.ddp = self.model
        self.optimizer = build_optimizer(cfg.optimizer, parameter_groups(self.model, cfg.weight_decay), lr=cfg.lr,
                                         weight_decay=cfg.weight_decay, momentum=cfg.momentum,
                                         betas=(cfg.beta1, cfg.beta2), eps=cfg.opt_eps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        self.sampler = GlobalBatchSampler(len(self.train_set), cfg.batch_size, seed=cfg.seed, rank=self.dist.rank,
                                          world_size=self.dist.world_size)
        self.steps_per_epoch = len(self.train_set) // cfg.batch_size
        self.schedule = schedule_for(kind=cfg.sched, lr=cfg.lr, warmup_lr=cfg.warmup_lr, min_lr=cfg.min_lr,
                                     epochs=cfg.epochs, warmup_epochs=cfg.warmup_epochs,
                                     cooldown_epochs=cfg.cooldown_epochs, steps_per_epoch=self.steps_per_epoch)
        if cfg.warmup_epochs >= cfg.epochs:
            log.warning("warmup_epochs (%d) >= epochs (%d): the run never leaves warm-up and never reaches lr=%g",
                        cfg.warmup_epochs, cfg.epochs, cfg.lr)
        self.loader = DataLoader(self.train_set, batch_sampler=self.sampler, num_workers=cfg.num_workers,
                                 pin_memory=self.device.type == "cuda", persistent_workers=cfg.num_workers > 0,
                                 generator=torch.Generator().manual_seed(cfg.seed))

        self.step = 0
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0
        self.train_log: list[dict[str, float]] = []
        self.epochs_log: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {}
        if resume and self.out is not None and self.checkpoint_path.is_file():
            self.load_checkpoint(self.checkpoint_path)
        if self.dist.is_main and self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.out / "config.json", self.describe())

    # -- bookkeeping -----------------------------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        assert self.out is not None
        return self.out / "checkpoints" / "last.pt"

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs

    def describe(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "data": {"argument": self.data_argument, "source": self.source, "train_pairs": len(self.train_set),
                     "val_pairs": len(self.val_set) if self.val_set else 0, "skipped_rows": self.skipped,
                     "train_fingerprint": self.fingerprint},
            "model": {"name": self.encoder.name, "weights": "random init (no pretrained weights)",
                      "parameters": sum(p.numel() for p in self.model.parameters()),
                      "image_size": self.encoder.image_size, "model_cfg": self.encoder.model_cfg},
            "run": {"device": str(self.device), "world_size": self.dist.world_size,
                    "mixed_precision": str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "off",
                    "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps},
            "versions": runstate.library_versions(),
        }

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of this moment: settings, position, RNG states, model, loss state, optimizer, logs."""
        progress = Progress(self.epoch, self.batch_in_epoch, self.step)
        return runstate.checkpoint(CHECKPOINT_KIND, self.config.to_dict(), progress, self.loader.generator,
                                   train_fingerprint=self.fingerprint, model=self.model.state_dict(),
                                   loss=self.loss_fn.state_dict(), optimizer=self.optimizer.state_dict(),
                                   scaler=self.scaler.state_dict(), train_log=self.train_log,
                                   epochs_log=self.epochs_log, best=self.best)

    def save_checkpoint(self, path: Path | None = None) -> None:
        if self.dist.is_main and self.out is not None:
            runstate.save_checkpoint(self.state_dict(), path or self.checkpoint_path)
        distributed.barrier(self.dist)

    def load_checkpoint(self, path: Path) -> None:
        ckpt = runstate.load_checkpoint(path, CHECKPOINT_KIND)
        runstate.check_settings(path, ckpt["config"], self.config.to_dict(), RESUMABLE_CHANGES)
        if ckpt["train_fingerprint"] != self.fingerprint:
            raise ResumeRefused(f"cannot resume {path}: the training pairs differ from the run's (the per-sample "
                                "loss state belongs to the old ones); use a new --out folder")
        self.model.load_state_dict(ckpt["model"], strict=True)
        self.loss_fn.load_state_dict(ckpt["loss"], strict=True)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt["scaler"] and self.scaler.is_enabled():
            # why the guard: a run saved under bf16 (no scaler: empty state) may resume on a GPU that needs fp16,
            # whose GradScaler refuses an empty state; it then starts from its initial scale
            self.scaler.load_state_dict(ckpt["scaler"])
        progress = Progress.from_dict(ckpt["progress"])
        self.step, self.epoch, self.batch_in_epoch = progress.step, progress.epoch, progress.batch
        self.train_log, self.epochs_log, self.best = ckpt["train_log"], ckpt["epochs_log"], ckpt["best"]
        runstate.restore_rng(ckpt["rng"], self.loader.generator)
        log.info("resumed %s at step %d (epoch %d, batch %d)", path, self.step, self.epoch + 1, self.batch_in_epoch)

    def write_metrics(self) -> None:
        if not (self.dist.is_main and self.out is not None):
            return
        from training.contrastive.plots import plot_run

        final = self.epochs_log[-1] if self.epochs_log else {}
        doc = {"loss": self.config.loss, "steps": self.step, "epochs_done": self.epoch,
               "final": final, "best": self.best, "epochs": self.epochs_log, "train": self.train_log}
        write_json_atomic(self.out / "metrics.json", doc)
        plot_run(self.train_log, self.epochs_log, self.out, f"{self.encoder.name} / {self.config.loss}")

    # -- training --------------------------------------------------------------------------------------------------

    def train_step(self, images: Tensor, tokens: Tensor, index: Tensor) -> dict[str, float]:
        """One update on this rank's share of a global batch; returns the logged terms of the global batch."""
        cfg = self.config
        self.ddp.train()
        self.loss_fn.train()
        images = images.to(self.device, non_blocking=True)
        tokens = tokens.to(self.device, non_blocking=True)
        index = index.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            image_f, text_f, logit_scale = self.ddp(images, tokens)
        # the losses run in float32: SogCLR's exponentials and logs are no place for half precision
        image_f = distributed.gather_features(image_f.float(), self.dist)
        text_f = distributed.gather_features(text_f.float(), self.dist)
        index = distributed.gather_index(index, self.dist)
        terms = self.loss_fn(image_f, text_f, index, logit_scale.float())
        loss = terms["loss"]
        if not torch.isfinite(loss):
            raise NonFiniteTrainingLoss(
                f"the {cfg.loss} loss became {loss.item()} at step {self.step + 1}; lower --lr, "
                "raise the temperature, or set grad_clip")
        # DDP averages gradients over ranks; each rank's holds only its slice's share of the global gradient
        self.scaler.scale(loss * self.dist.world_size).backward()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.model.logit_scale.requires_grad:
            with torch.no_grad():  # as open_clip: a temperature below 1/100 makes the logits overflow
                self.model.logit_scale.clamp_(0, math.log(100))
        return {k: float(v.detach()) for k, v in terms.items()}

    def run_evaluation(self) -> dict[str, Any]:
        cfg = self.config
        out: dict[str, Any] = {}
        if self.dist.is_main:
            kw = dict(templates=cfg.zero_shot_templates, batch_size=cfg.eval_batch_size, device=self.device,
                      autocast_dtype=self.amp_dtype)
            if self.val_set is not None:
                out["val"] = evaluate(self.model, self.val_set, self.encoder.tokenizer, **kw)
            if self.train_eval_set is not None:
                out["train"] = evaluate(self.model, self.train_eval_set, self.encoder.tokenizer, **kw)
        distributed.barrier(self.dist)
        return out

    def fit(self, *, max_steps: int | None = None, on_step: Callable[[StepInfo], None] | None = None,
            on_epoch: Callable[[int, dict[str, Any]], None] | None = None) -> TrainResult:
        """Train to `config.epochs`, or stop (with a checkpoint) once `max_steps` updates are done.
        `on_epoch(epoch, entry)` runs after each epoch's evaluation and may raise to stop (e.g. Optuna pruning)."""
        cfg = self.config
        window: list[dict[str, float]] = []
        stopped = False
        while self.epoch < cfg.epochs and not stopped:
            self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
            epoch_terms: list[dict[str, float]] = []
            t_epoch = time.perf_counter()
            t_step = time.perf_counter()
            for images, tokens, index in self.loader:
                lr = self.schedule(self.step)
                set_lr(self.optimizer, lr)
                terms = self.train_step(images, tokens, index)
                self.step += 1
                self.batch_in_epoch += 1
                now = time.perf_counter()
                speed = cfg.batch_size / max(now - t_step, 1e-9)
                t_step = now
                window.append(terms)
                epoch_terms.append(terms)
                if self.step % cfg.log_every == 0 or self.batch_in_epoch == self.steps_per_epoch:
                    self._log_window(window, lr, speed)
                    window = []
                if on_step is not None:
                    on_step(StepInfo(self.step, self.total_steps, self.epoch, cfg.epochs, lr, terms, speed))
                if max_steps is not None and self.step >= max_steps:
                    stopped = True
                    break
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            if stopped and self.batch_in_epoch < self.steps_per_epoch:
                self.save_checkpoint()
                break
            self._end_epoch(epoch_terms, time.perf_counter() - t_epoch, on_epoch)
        if self.dist.is_main and self.out is not None and not stopped:
            export_open_clip(self.encoder, self.out / "encoder")
        self.write_metrics()
        final = self.epochs_log[-1] if self.epochs_log else {}
        return TrainResult(self.out, self.step, self.epoch, final, self.best, self.epochs_log, stopped)

    def _log_window(self, window: list[dict[str, float]], lr: float, speed: float) -> None:
        mean = {k: sum(t[k] for t in window) / len(window) for k in window[0]}
        self.train_log.append({"step": self.step, "epoch": self.epoch + 1, "lr": lr, "samples_per_s": speed, **mean})
        shown = " ".join(f"{k} {v:.4g}" for k, v in mean.items())
        log.info("epoch %d/%d step %d/%d %s lr %.3g %.1f samples/s", self.epoch + 1, self.config.epochs, self.step,
                 self.total_steps, shown, lr, speed)

    def _end_epoch(self, epoch_terms: list[dict[str, float]], seconds: float,
                   on_epoch: Callable[[int, dict[str, Any]], None] | None) -> None:
        cfg = self.config
        self.epoch += 1
        self.batch_in_epoch = 0
        entry: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "seconds": round(seconds, 3)}
        if epoch_terms:
            entry["train_terms"] = {k: sum(t[k] for t in epoch_terms) / len(epoch_terms) for k in epoch_terms[0]}
        if self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs:
            entry.update(self.run_evaluation())
            scored = entry.get("val") or entry.get("train")
            if scored and self.dist.is_main:
                log.info("epoch %d: %s", self.epoch, " ".join(
                    f"{split}.{k} {v:.2f}" for split in ("val", "train") if split in entry
                    for k, v in entry[split].items() if k in ("i2t_r1", "t2i_r1", "zeroshot_top1", "objective")))
                if not self.best or scored["objective"] > self.best["objective"]:
                    self.best = {"epoch": self.epoch, "step": self.step, **scored}
                    if self.out is not None:
                        best = {"model": self.model.state_dict(), "epoch": self.epoch, "metrics": scored,
                                "model_cfg": self.encoder.model_cfg}
                        runstate.save_checkpoint(best, self.out / "checkpoints" / "best-model.pt")
        self.epochs_log.append(entry)
        self.save_checkpoint()
        self.write_metrics()
        if on_epoch is not None:
            on_epoch(self.epoch - 1, entry)

