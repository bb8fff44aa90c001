"""The scorer trainer on tiny data: run folder contents, strict reload, exact resume, bad images, groups, freezing."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from curation.scorer.checkpoint import load_scorer
from curation.scorer.tower import build_tower
from training.scorer.data import RatedImageDataset, collate_rated, load_ratings, split_samples
from training.scorer.metrics import plcc
from training.scorer.synthetic import write_synthetic_ratings
from training.scorer.trainer import TrainConfig, TrainingError, train_scorer


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    return write_synthetic_ratings(tmp_path_factory.mktemp("rated"), n=24, size=32, seed=1)


@pytest.fixture(scope="module")
def two_stage_schedule(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schedules") / "two.json"
    path.write_text(json.dumps({"name": "two", "stages": [
        {"name": "a", "optimizer": "adamw", "lr": 1e-3, "epochs": 2, "losses": ["mse", "mixed"], "loss_every": 1,
         "warmup_steps": 2, "lr_decay": "cosine"},
        {"name": "b", "optimizer": "sgd", "lr": 1e-2, "epochs": 1, "losses": ["emd"], "momentum": 0.9},
    ]}))
    return path


def config(ratings: Path, out: Path, **kw) -> TrainConfig:
    base = {"data": str(ratings), "out": str(out), "tower": "tiny", "schedule": "seed000", "epochs_scale": 0.1,
            "batch_size": 8, "val_fraction": 0.25, "device": "cpu"}
    return TrainConfig(**{**base, **kw})


def test_run_folder_and_strict_reload(ratings, tmp_path):
    events = []
    result = train_scorer(config(ratings, tmp_path / "run"), on_event=events.append)
    run = tmp_path / "run"
    assert result.finished and len(result.epochs) == 3  # seed000 at 0.1: one epoch per stage
    assert [e["loss_name"] for e in result.epochs] == ["mse", "mixed", "emd"]
    assert [e["optimizer"] for e in result.epochs] == ["adamw", "adam", "sgd"]
    resolved = json.loads((run / "config.json").read_text())
    assert resolved["train"]["schedule"] == "seed000" and resolved["schedule"]["stages"][0]["epochs"] == 1
    assert resolved["data"]["train"] == 18 and resolved["data"]["val"] == 6
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["epochs"][0]["val"]) >= {"plcc", "srcc", "mse", "acc5", "loss", "n"}
    with open(run / "steps.csv") as f:
        steps = list(csv.DictReader(f))
    assert len(steps) == 9 and steps[0]["loss_name"] == "mse"
    assert (run / "plots" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "best" / "scorer.json").is_file()
    assert [e.kind for e in events][0] == "start" and events[-1].kind == "end"
    assert sum(e.kind == "step" for e in events) == 9 and sum(e.kind == "epoch" for e in events) == 3

    # the run folder loads unchanged and reproduces the recorded validation figures
    scorer = load_scorer(str(run))
    assert scorer.name == "run" and scorer.meta["schedule"] == "seed000"
    samples, _ = load_ratings(ratings)
    _, val = split_samples(samples, 0.25, seed=0)
    batch = collate_rated([RatedImageDataset(val, scorer.image_size)[i] for i in range(len(val))])
    with torch.no_grad():
        pred = scorer.score(batch["image"])
    assert plcc(pred, batch["score"]) == pytest.approx(metrics["epochs"][-1]["val"]["plcc"], abs=1e-5)


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "scorer" / "scorer.safetensors"))


def _step_losses(run: Path) -> list[str]:
    with open(run / "steps.csv") as f:
        return [row["loss"] for row in csv.DictReader(f)]


@pytest.mark.parametrize("stop_at", [4, 6])  # 4: inside epoch 2; 6: at the end of stage a (new optimizer next)
def test_resume_continues_exactly(ratings, two_stage_schedule, tmp_path, stop_at):
    # dropout in the head makes the RNG state matter; warmup + cosine make the LR scheduler state matter
    kw = {"schedule": str(two_stage_schedule), "epochs_scale": 1.0, "head_hidden": (16,), "head_dropout": 0.3}
    whole = train_scorer(config(ratings, tmp_path / "whole", **kw))
    assert whole.finished and len(_step_losses(tmp_path / "whole")) == 9

    first = train_scorer(config(ratings, tmp_path / "split", max_steps=stop_at, **kw))
    assert not first.finished
    assert len(_step_losses(tmp_path / "split")) == stop_at
    # the next step after resuming is the step the uninterrupted run took
    one_more = train_scorer(config(ratings, tmp_path / "split", max_steps=stop_at + 1, **kw), resume=True)
    assert _step_losses(tmp_path / "split") == _step_losses(tmp_path / "whole")[:stop_at + 1]
    assert not one_more.finished
    rest = train_scorer(config(ratings, tmp_path / "split", **kw), resume=True)
    assert rest.finished
    assert _step_losses(tmp_path / "split") == _step_losses(tmp_path / "whole")
    a, b = _final_weights(tmp_path / "whole"), _final_weights(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [e["val"] for e in rest.epochs] == [e["val"] for e in whole.epochs]


def test_resume_refuses_other_settings_and_reuse(ratings, tmp_path):
    cfg = config(ratings, tmp_path / "run", max_steps=2)
    train_scorer(cfg)
    with pytest.raises(TrainingError, match=r"settings differ from the checkpoint \(batch_size: 8 -> 4\)"):
        train_scorer(replace(cfg, batch_size=4), resume=True)
    with pytest.raises(TrainingError, match="already holds a run; resume it"):
        train_scorer(cfg)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train_scorer(config(ratings, tmp_path / "other"), resume=True)


def test_unreadable_images_are_counted_not_fatal(ratings, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "broken.png").write_bytes(b"\x89PNG but not really")
    rows = ratings.read_text().splitlines()
    images_dir = ratings.parent / "images"
    lines = [rows[0]] + [r.replace("images/", f"{images_dir}/", 1) for r in rows[1:]] + ["broken.png,5.0,warm"]
    (data / "ratings.csv").write_text("\n".join(lines) + "\n")
    result = train_scorer(config(data / "ratings.csv", tmp_path / "run", val_fraction=0.0, epochs_scale=0.1,
                                 schedule="head-only"))
    assert result.finished and result.data["unreadable_images"] == 1
    assert sum(e["skipped_images"] for e in result.epochs) == 1  # reported once, in the epoch that met it
    assert result.epochs[0]["samples"] == 24 and result.epochs[0]["val"] is None


def test_group_weighting_reports_groups(ratings, tmp_path):
    result = train_scorer(config(ratings, tmp_path / "run", group_column="theme", max_steps=3))
    assert set(result.epochs[0]["val"]["groups"]) <= {"warm", "cool"}
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["group_column"] == "theme"


def test_head_only_stages_leave_the_tower_alone(ratings, tmp_path):
    train_scorer(config(ratings, tmp_path / "run", schedule="head-only", seed=5))
    trained = _final_weights(tmp_path / "run")
    torch.manual_seed(5)
    fresh = build_tower("tiny").state_dict()
    for key, value in fresh.items():
        assert torch.equal(trained[f"tower.{key}"], value), key
    assert not torch.equal(trained["head.out.weight"], torch.zeros_like(trained["head.out.weight"]))


def test_head_warmup_option_and_public_head_mismatch(ratings, tmp_path):
    result = train_scorer(config(ratings, tmp_path / "run", head_warmup_epochs=1))
    assert result.epochs[0]["stage"] == "head-warmup" and result.epochs[0]["train"] == "head"
    with pytest.raises(TrainingError, match="trained on ViT-B-32:openai embeddings, but the tower is tiny"):
        train_scorer(config(ratings, tmp_path / "other", init_head="laion-vit-b-32"))
