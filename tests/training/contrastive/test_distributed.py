"""Two CPU ranks under torchrun (gloo) take the same steps as one process on the same global batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.contrastive.trainer import CHECKPOINT_KIND, Trainer
from training.runstate import load_checkpoint

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.parametrize("loss", ["sogclr"])
def test_two_ranks_equal_one_process(pairs: Path, tmp_path: Path, tiny_config, loss: str) -> None:
    if not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    # plain SGD: the weights after a step are the gradient itself, so a mis-scaled DDP gradient shows
    config = tiny_config.replace(loss=loss, optimizer="sgd", momentum=0.0, lr=0.5, warmup_epochs=0, epochs=2,
                                 eval_train_max=0)
    overrides = ["--set", "momentum=0", "--set", "eval_train_max=0", "--set", "log_every=1"]
    args = ["--data", str(pairs), "--out", str(tmp_path / "ddp"), "--config", "tiny", "--loss", loss,
            "--optimizer", "sgd", "--lr", "0.5", "--warmup-epochs", "0", "--epochs", "2", "--batch-size", "8",
            "--set", "val_fraction=0.25", "--max-steps", "3", "--no-progress", *overrides]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(WORKER), *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    single = Trainer(config, pairs, tmp_path / "single")
    single.fit(max_steps=3)  # across an epoch boundary (2 steps per epoch), with an evaluation between
    ddp = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt", CHECKPOINT_KIND)
    one = load_checkpoint(tmp_path / "single" / "checkpoints" / "last.pt", CHECKPOINT_KIND)
    assert ddp["config"] == one["config"] and ddp["progress"]["step"] == one["progress"]["step"] == 3
    assert len(ddp["train_log"]) == 3
    for got, want in zip(ddp["train_log"], one["train_log"], strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
        assert got["objective"] == pytest.approx(want["objective"], rel=1e-5)
    for name, tensor in one["model"].items():
        torch.testing.assert_close(ddp["model"][name], tensor, rtol=1e-4, atol=1e-6, msg=name)
    for name, tensor in one["loss"].items():  # per-sample state indexed by the gathered global indices
        seen = torch.isfinite(tensor)
        assert torch.equal(torch.isfinite(ddp["loss"][name]), seen), name
        torch.testing.assert_close(ddp["loss"][name][seen], tensor[seen], rtol=1e-5, atol=1e-5, msg=name)
    assert torch.isfinite(one["loss"]["log_u_image"]).sum() == 16  # the two epochs' first batches touched 16 rows
