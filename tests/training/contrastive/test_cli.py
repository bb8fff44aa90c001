"""`dstrtd train encoder` end to end on the tiny model: the run folder, the printed metrics, resume, errors."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

from installation.commands import train_encoder
from training.contrastive.errors import ContrastiveError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    train_encoder.add_arguments(parser)
    return train_encoder.run(parser.parse_args(argv))


def test_train_encoder_command(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["--data", str(pairs), "--loss", "isogclr", "--model", "tiny", "--epochs", "1", "--batch-size", "8",
            "--out", str(out), "--config", "tiny", "--set", "val_fraction=0.25", "--no-progress"]
    assert run(argv) == 0
    printed = capsys.readouterr().out
    assert "trained 2 steps, 1 epochs" in printed and "i2t_r1" in printed and "zeroshot_top1" in printed
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["loss"], config["model"], config["epochs"], config["batch_size"], config["val_fraction"]) == (
        "isogclr", "tiny", 1, 8, 0.25)
    for name in ("train.log", "metrics.json", "loss.png", "metrics.png", "checkpoints/last.pt", "encoder"):
        assert (out / name).exists(), name
    assert "epoch 1/1" in (out / "train.log").read_text()
    with pytest.raises(ContrastiveError, match="already holds a run"):
        run(argv)
    # --resume takes settings and data from the run; one more epoch continues from step 2
    assert run(["--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert "trained 4 steps, 2 epochs" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["config"]["loss"] == "isogclr"


def test_bad_settings_are_user_errors(pairs: Path, tmp_path: Path) -> None:
    with pytest.raises(ContrastiveError, match="--set takes FIELD=VALUE"):
        run(["--data", str(pairs), "--out", str(tmp_path), "--set", "lr"])
    with pytest.raises(ContrastiveError, match="unknown config keys"):
        run(["--data", str(pairs), "--out", str(tmp_path), "--set", "learning_rate=1"])
    with pytest.raises(FileNotFoundError, match="image-text data not found"):
        run(["--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"), "--config", "tiny"])
    with pytest.raises(ContrastiveError, match="--data FILE_OR_DIR is required"):
        run(["--out", str(tmp_path / "o")])
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        run(["--out", str(tmp_path / "o"), "--resume"])


@pytest.mark.skipif(importlib.util.find_spec("installation.commands.train") is None,
                    reason="`dstrtd train` is not mounted yet")
def test_mounted_under_dstrtd_train(pairs: Path, tmp_path: Path) -> None:
    from installation.cli import main

    assert main(["train", "encoder", "--data", str(pairs), "--config", "tiny", "--epochs", "1", "--batch-size", "8",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_search_then_best_on_all_data(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "search"
    argv = ["--data", str(pairs), "--config", "tiny", "--batch-size", "8", "--epochs", "1", "--out", str(out),
            "--search", "--trials", "1", "--search-epochs", "1", "--search-fraction", "1.0", "--no-progress",
            "--set", "val_fraction=0.25", "--set", "eval_train_max=0"]
    assert run(argv) == 0
    printed = capsys.readouterr().out
    assert "phase 1: 1 trials" in printed and "phase 2" in printed
    assert (out / "search.db").is_file() and (out / "best" / "metrics.json").is_file()


def test_every_field_option_sets_its_field_with_the_fields_default(tmp_path: Path) -> None:
    from training.contrastive.config import TrainConfig, load_config

    parser = argparse.ArgumentParser()
    train_encoder.add_arguments(parser)
    argv = ["--data", "d.csv", "--out", str(tmp_path), "--config", "tiny", "--loss", "clip", "--model", "RN50",
            "--epochs", "2", "--batch-size", "4", "--lr", "0.01", "--optimizer", "lamb", "--sched", "tanh",
            "--warmup-epochs", "0", "--weight-decay", "0.1", "--embed-dim", "32", "--temp", "0.07", "--grad-clip",
            "2", "--val-fraction", "0.3", "--eval-data", "e.csv", "--data-fraction", "0.5", "--precision", "amp",
            "--device", "cpu", "--seed", "7", "--num-workers", "1", "--set", "beta_u=0.25"]
    config, data = train_encoder.resolve_config(parser.parse_args(argv))
    assert data == "d.csv"
    assert config == load_config("tiny").replace(
        loss="clip", model="RN50", epochs=2, batch_size=4, lr=0.01, optimizer="lamb", sched="tanh", warmup_epochs=0,
        weight_decay=0.1, embed_dim=32, temp=0.07, grad_clip=2.0, val_fraction=0.3, eval_data="e.csv",
        data_fraction=0.5, precision="amp", device="cpu", seed=7, num_workers=1, beta_u=0.25)
    text = " ".join(parser.format_help().split())
    assert f"peak learning rate (default: {TrainConfig.lr:g})" in text
    assert "--optimizer {adamw,adam,radam,lamb,sgd,rmsprop}" in text
