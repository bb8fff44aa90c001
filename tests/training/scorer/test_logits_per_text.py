"""Training the logits-per-text head (seed 000's variant) with the same trainer, losses, schedules and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from curation.scorer.checkpoint import load_scorer
from curation.scorer.text_head import LogitsPerTextHead, build_text_head
from curation.scorer.tower import build_tower
from installation.cli import main
from training.scorer.data import RatedImageDataset, collate_rated, load_ratings, split_samples
from training.scorer.synthetic import write_synthetic_ratings
from training.scorer.trainer import ScorerTrainer, TrainConfig, TrainingError, train_scorer


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    return write_synthetic_ratings(tmp_path_factory.mktemp("rated"), n=96, size=32, seed=3)


@pytest.fixture(scope="module")
def short_schedule(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schedules") / "short.json"
    path.write_text(json.dumps({"name": "short", "stages": [
        {"name": "a", "optimizer": "adam", "lr": 1e-3, "epochs": 3, "losses": ["mse"]}]}))
    return path


def _val_mse(scorer, ratings: Path) -> float:
    samples, _ = load_ratings(ratings)
    _, val = split_samples(samples, 0.25, seed=0)
    batch = collate_rated([RatedImageDataset(val, scorer.image_size)[i] for i in range(len(val))])
    with torch.no_grad():
        return float((scorer.score(batch["image"]) - batch["score"]).pow(2).mean())


def test_short_training_lowers_the_validation_loss(ratings, short_schedule, tmp_path):
    config = TrainConfig(data=str(ratings), out=str(tmp_path / "run"), tower="tiny", schedule=str(short_schedule),
                         batch_size=16, val_fraction=0.25, seed=0, device="cpu", head="logits-per-text")
    # the model the trainer starts from: same seed, same build
    torch.manual_seed(0)
    tower = build_tower("tiny")
    start = load_scorer("tiny")
    start.tower, start.head = tower, build_text_head(tower)
    before = _val_mse(start.eval(), ratings)

    result = train_scorer(config)
    losses = [e["val"]["loss"] for e in result.epochs]
    assert result.finished and len(losses) == 3
    assert losses[-1] < 0.5 * before, (before, losses)  # measured: 4.4 -> 1.7
    assert losses[-1] < losses[0]

    scorer = load_scorer(str(tmp_path / "run"))
    assert isinstance(scorer.head, LogitsPerTextHead)
    assert _val_mse(scorer, ratings) == pytest.approx(losses[-1], rel=1e-4)
    trained = scorer.head.prompt_embeddings
    assert not torch.equal(trained, start.head.prompt_embeddings)  # the prompts learnt
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert resolved["train"]["head"] == "logits-per-text" and resolved["head"]["type"] == "logits-per-text"
    assert resolved["head"]["prompts"][0] == "a photo rated 1 out of 10"


def test_cli_head_logits_per_text_writes_a_run_folder(ratings, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "scorer", "--data", str(ratings), "--tower", "tiny", "--head", "logits-per-text",
            "--rating-prompts", "an artwork rated {} of 10", "--no-learn-prompts", "--schedule", "seed000",
            "--epochs-scale", "0.1", "--batch-size", "32", "--out", str(out), "--max-steps", "2", "--no-progress"]
    assert main(argv) == 0
    assert "stopped early" in capsys.readouterr().out
    for name in ("config.json", "metrics.json", "steps.csv", "train.log", "checkpoints/last.pt",
                 "scorer/scorer.json", "scorer/scorer.safetensors"):
        assert (out / name).is_file(), name
    # resumes with the run's own settings, head included
    assert main(["train", "scorer", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert "scorer training finished: 3 epoch(s)" in capsys.readouterr().out
    head = json.loads((out / "scorer" / "scorer.json").read_text())["head"]
    assert head["type"] == "logits-per-text" and head["learn_prompts"] is False
    assert head["prompts"][9] == "an artwork rated 10 of 10"
    scorer = load_scorer(str(out))
    assert scorer.head.config.prompts[0] == "an artwork rated 1 of 10"
    assert scorer(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_cli_and_config_errors(ratings, tmp_path, capsys):
    base = ["train", "scorer", "--data", str(ratings), "--tower", "tiny", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a"), "--rating-prompts", "x {}"]) == 2
    assert "belong to the logits-per-text head" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # a usage error, reported by the option it concerns
        main([*base, "--out", str(tmp_path / "b"), "--head", "logits-per-text", "--rating-prompts", "a|b"])
    assert usage.value.code == 2
    assert "--rating-prompts/--rating_prompts: need 10 non-empty rating prompts" in capsys.readouterr().err
    with pytest.raises(TrainingError, match="ten non-empty prompts"):
        TrainConfig(data="x", out="y", head="logits-per-text", rating_prompts=("a", "b"))
    assert main([*base, "--out", str(tmp_path / "c"), "--head", "logits-per-text", "--head-hidden", "8"]) == 2
    assert "CLIP's text side" in capsys.readouterr().err
    with pytest.raises(TrainingError, match="unknown head 'mlp'; known: distribution, logits-per-text"):
        TrainConfig(data="x", out="y", head="mlp")


def test_runs_saved_before_the_head_setting_still_resume(tmp_path):
    trainer = ScorerTrainer(TrainConfig(data="x", out=str(tmp_path)))
    saved = trainer.config.to_dict()
    for key in ("head", "rating_prompts", "learn_prompts"):
        del saved[key]
    trainer._check_resumable(saved)  # no error: the defaults are what the old run used
    with pytest.raises(TrainingError, match="head: 'distribution' -> 'logits-per-text'"):
        ScorerTrainer(TrainConfig(data="x", out=str(tmp_path), head="logits-per-text"))._check_resumable(saved)
