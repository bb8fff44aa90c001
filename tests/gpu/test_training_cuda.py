"""The trainers on CUDA: scorer training and contrastive training (CLIP, SogCLR, iSogCLR) with their mixed precision,
finite losses, state on the device, checkpoints that resume."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from curation.scorer.checkpoint import load_scorer
from training.contrastive.config import load_config
from training.contrastive.trainer import StepInfo, Trainer
from training.scorer.trainer import TrainConfig, train_scorer

from .conftest import DEVICE, GPU, ON_CUDA, half_dtype

pytestmark = GPU


# --- the aesthetic scorer (no mixed precision: the trainer has none) ----------------------------------------------

def _scorer_config(ratings: Path, out: Path, **kw) -> TrainConfig:
    base = {"data": str(ratings), "out": str(out), "tower": "tiny", "schedule": "seed000", "epochs_scale": 0.1,
            "batch_size": 8, "val_fraction": 0.25, "device": DEVICE}
    return TrainConfig(**{**base, **kw})


def _step_losses(run: Path) -> list[float]:
    with open(run / "steps.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_scorer_trains_on_the_device_and_resumes(ratings, tmp_path):
    straight = train_scorer(_scorer_config(ratings, tmp_path / "a"))
    assert straight.finished and len(straight.epochs) == 3
    losses = _step_losses(tmp_path / "a")
    assert len(losses) == 9 and all(math.isfinite(v) for v in losses)
    ckpt = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in ckpt["model"].values())  # checkpoints load anywhere
    assert ("cuda" in ckpt["rng"]) == ON_CUDA  # the CUDA generators travel with the checkpoint

    stopped = train_scorer(_scorer_config(ratings, tmp_path / "b", max_steps=4))
    assert not stopped.finished
    train_scorer(_scorer_config(ratings, tmp_path / "b"), resume=True)
    # CUDA's atomic-add backward passes make the runs differ in the last bits, not more
    assert _step_losses(tmp_path / "b") == pytest.approx(losses, rel=1e-2, abs=1e-4)

    scorer = load_scorer(str(tmp_path / "a"), device=DEVICE)
    assert all(p.device.type == torch.device(DEVICE).type for p in scorer.parameters())
    with torch.no_grad():
        scores = scorer.score(torch.rand(3, 3, 32, 32, device=DEVICE))
    assert torch.isfinite(scores).all() and ((scores >= 1) & (scores <= 10)).all()


# --- contrastive training -----------------------------------------------------------------------------------------

def _contrastive_config(loss: str, precision: str = "amp"):
    # 24 pairs: 6 held out, 18 to train on, 2 steps of 8 per epoch (tests/training/contrastive/conftest.py)
    return load_config("tiny").replace(batch_size=8, epochs=2, val_fraction=0.25, eval_train_max=8, log_every=1,
                                       warmup_epochs=1, loss=loss, precision=precision, device=DEVICE)


@pytest.mark.parametrize("loss", ["clip", "sogclr", "isogclr"])
def test_contrastive_amp_trains_and_resumes_with_state_on_the_device(pairs, tmp_path, loss):
    config = _contrastive_config(loss)
    first: list[StepInfo] = []
    trainer = Trainer(config, pairs, tmp_path / "run")
    assert trainer.amp_dtype == (half_dtype() if ON_CUDA else None)
    assert trainer.scaler.is_enabled() == (trainer.amp_dtype == torch.float16)
    stopped = trainer.fit(max_steps=1, on_step=first.append)
    assert stopped.stopped_early and stopped.steps == 1
    assert all(math.isfinite(v) for v in first[0].terms.values())
    dev = torch.device(DEVICE).type
    assert all(p.device.type == dev for p in trainer.model.parameters())
    state = trainer.loss_fn.state_dict()
    if loss != "clip":  # SogCLR's moving averages, iSogCLR's per-sample temperatures
        assert state and all(t.device.type == dev for t in state.values())

    resumed: list[StepInfo] = []
    again = Trainer(config, pairs, tmp_path / "run", resume=True)
    assert again.step == 1 and again.batch_in_epoch == 1
    assert all(t.device.type == dev for t in again.loss_fn.state_dict().values())
    for name, tensor in state.items():
        torch.testing.assert_close(again.loss_fn.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    result = again.fit(on_step=resumed.append)
    assert [s.step for s in resumed] == [2, 3, 4] and result.steps == 4 and not result.stopped_early
    assert all(math.isfinite(v) for s in resumed for v in s.terms.values())
    assert (tmp_path / "run" / "encoder" / "open_clip_config.json").is_file()
    assert all(math.isfinite(v) for k, v in result.final["val"].items() if isinstance(v, float))


@pytest.mark.skipif(not ON_CUDA, reason="fp16 autocast + GradScaler is the CUDA path of GPUs without bf16")
def test_contrastive_fp16_gradscaler_path(pairs, tmp_path, monkeypatch):
    """What a GPU without native bf16 (T4, V100) runs: fp16 autocast with a GradScaler, grad clipping unscaled; and
    a run begun under bf16 (empty scaler state) resumes there."""
    config = _contrastive_config("isogclr").replace(grad_clip=1.0, eval_train_max=0)
    Trainer(config, pairs, tmp_path / "moved").fit(max_steps=1)  # bf16 on this GPU
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    moved = Trainer(config, pairs, tmp_path / "moved", resume=True)
    assert moved.amp_dtype == torch.float16 and moved.scaler.is_enabled() and moved.step == 1
    moved_steps: list[StepInfo] = []
    moved.fit(max_steps=2, on_step=moved_steps.append)
    assert [s.step for s in moved_steps] == [2] and all(math.isfinite(v) for v in moved_steps[0].terms.values())

    trainer = Trainer(config, pairs, tmp_path / "fp16")
    assert trainer.amp_dtype == torch.float16 and trainer.scaler.is_enabled()
    steps: list[StepInfo] = []
    trainer.fit(max_steps=2, on_step=steps.append)
    assert len(steps) == 2 and all(math.isfinite(v) for s in steps for v in s.terms.values())
    assert trainer.scaler.get_scale() > 0
    again = Trainer(config, pairs, tmp_path / "fp16", resume=True)
    assert again.scaler.get_scale() == trainer.scaler.get_scale()
