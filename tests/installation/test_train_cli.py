"""`dstrtd train scorer` end to end on the tiny tower, through `installation.cli.main`."""

from __future__ import annotations

import json

import pytest

from installation.cli import main
from training.scorer.synthetic import write_synthetic_ratings


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    return write_synthetic_ratings(tmp_path_factory.mktemp("rated"), n=20, size=32, seed=2)


def test_train_scorer_writes_a_run_folder_and_resumes(ratings, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "scorer", "--data", str(ratings), "--tower", "tiny", "--schedule", "seed000",
            "--epochs-scale", "0.1", "--batch-size", "8", "--out", str(out), "--max-steps", "4"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "stopped early (resume with --resume)" in printed.out
    assert "train scorer" in printed.err  # the progress bar
    for name in ("config.json", "metrics.json", "steps.csv", "train.log", "checkpoints/last.pt",
                 "scorer/scorer.json", "scorer/scorer.safetensors"):
        assert (out / name).is_file(), name
    resolved = json.loads((out / "config.json").read_text())
    assert resolved["train"]["epochs_scale"] == 0.1 and resolved["train"]["tower"] == "tiny"
    assert "training tiny on" in (out / "train.log").read_text()

    assert main(["train", "scorer", "--out", str(out), "--resume", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "scorer training finished: 3 epoch(s)" in printed and "PLCC" in printed
    assert (out / "plots" / "curves.png").is_file()
    # the result is a scorer like any other
    from curation.scorer.checkpoint import load_scorer

    assert load_scorer(str(out)).name == "run"


def test_train_scorer_usage_errors(ratings, tmp_path, capsys):
    assert main(["train", "scorer", "--out", str(tmp_path / "x")]) == 2
    assert "--data FILE_OR_DIR is required" in capsys.readouterr().err
    assert main(["train", "scorer", "--data", str(ratings), "--out", str(tmp_path / "y"), "--schedule", "nope"]) == 2
    assert "unknown schedule 'nope'; known:" in capsys.readouterr().err
    assert main(["train", "scorer", "--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "z")]) == 2
    assert "rated data not found" in capsys.readouterr().err
    assert main(["train", "scorer", "--out", str(tmp_path / "never"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "scorer or encoder" in capsys.readouterr().err


def test_list_schedules_and_encoder_subcommand(capsys):
    assert main(["train", "scorer", "--list-schedules"]) == 0
    out = capsys.readouterr().out
    assert "seed000" in out and "adamw lr 0.0001 x6 mse/l1/mixed" in out
    with pytest.raises(SystemExit):
        main(["train", "encoder", "--help"])
    assert "encoder" in capsys.readouterr().out


def test_every_scorer_option_sets_its_field_with_the_fields_default_and_help(tmp_path, capsys):
    import argparse

    from installation.commands.train import add_scorer_arguments, resolve_scorer_config
    from training.scorer.config import TrainConfig

    parser = argparse.ArgumentParser()
    add_scorer_arguments(parser)
    argv = ["--out", str(tmp_path / "run"), "--data", "r.csv", "--tower", "ViT-B-32", "--schedule", "seed001",
            "--epochs-scale", "0.5", "--batch-size", "4", "--val-fraction", "0.2", "--seed", "3", "--device", "cpu",
            "--num-workers", "2", "--head", "logits-per-text", "--rating-prompts", "a {} photo", "--no-learn-prompts",
            "--head-warmup-epochs", "1", "--head-warmup-lr", "0.01", "--group-column", "theme", "--group-power",
            "0.5", "--grad-clip", "1.5", "--skip-missing", "--checkpoint-every-steps", "5", "--max-steps", "9",
            "--name", "mine", "--no-progress"]
    config = resolve_scorer_config(parser.parse_args(argv))
    assert config == TrainConfig(
        data="r.csv", out=str(tmp_path / "run"), tower="ViT-B-32", schedule="seed001", epochs_scale=0.5,
        batch_size=4, val_fraction=0.2, seed=3, device="cpu", num_workers=2, head="logits-per-text",
        rating_prompts=tuple(f"a {k} photo" for k in range(1, 11)), learn_prompts=False, head_warmup_epochs=1,
        head_warmup_lr=0.01, group_column="theme", group_power=0.5, grad_clip=1.5, skip_missing=True,
        checkpoint_every_steps=5, max_steps=9, name="mine")
    given = parser.parse_args(["--out", "o", "--data", "d", "--head-hidden", "16,8", "--head-dropout", "0.1",
                               "--init-head", "auto"])
    assert resolve_scorer_config(given) == TrainConfig(data="d", out="o", head_hidden=(16, 8), head_dropout=0.1,
                                                       init_head="auto")
    assert resolve_scorer_config(parser.parse_args(["--out", "o", "--data", "d"])) == TrainConfig(data="d", out="o")
    text = " ".join(parser.format_help().split())
    assert f"images per step (default: {TrainConfig.batch_size})" in text  # the field's help and default
    assert "--head {distribution,logits-per-text}" in text  # the choices of the field's Literal type


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("dstrtd")]
    assert len(lines) == 1 and lines[0].startswith("dstrtd train: error: "), err
    assert "Traceback" not in err and "unexpected error" not in err
    return lines[0]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_ratings_file_that_is_not_utf8_is_one_line(tmp_path, capsys, suffix):
    data = tmp_path / f"ratings{suffix}"
    row = "image,score\nflüsse.png,5\n" if suffix == ".csv" else '{"image": "flüsse.png", "score": 5}\n'
    data.write_bytes(row.encode("latin-1"))
    assert main(["train", "scorer", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    line = _one_line_error(capsys)
    assert f"ratings file {data} is not UTF-8 text (byte 0xfc on line" in line and "save it as UTF-8" in line


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_captions_file_that_is_not_utf8_is_one_line(tmp_path, capsys, suffix):
    data = tmp_path / f"captions{suffix}"
    row = "image,caption\nreef.png,a reef at dawn, café\n" if suffix == ".csv" else \
        '{"image": "reef.png", "caption": "café"}\n'
    data.write_bytes(row.encode("latin-1"))
    assert main(["train", "encoder", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    assert f"captions file {data} is not UTF-8 text (byte 0xe9" in _one_line_error(capsys)


def test_training_on_images_that_are_all_unreadable_fails_and_writes_no_scorer(tmp_path, capsys):
    rows = ["image,score"]
    for i in range(8):
        (tmp_path / f"broken{i}.png").write_bytes(b"not a png at all")
        rows.append(f"broken{i}.png,{i + 2}")
    (tmp_path / "ratings.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["train", "scorer", "--data", str(tmp_path / "ratings.csv"), "--tower", "tiny", "--epochs-scale",
                 "0.1", "--batch-size", "4", "--out", str(out), "--no-progress"]) == 2
    line = _one_line_error(capsys)
    assert "not one image of" in line and "could be read in epoch 1" in line and "no scorer was written" in line
    assert not (out / "scorer").exists() and not (out / "best").exists()
    assert not (out / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("value", ["1.5", "-0.1", "1"])
def test_val_fraction_outside_its_range_is_one_line(ratings, tmp_path, capsys, value):
    assert main(["train", "scorer", "--data", str(ratings), "--out", str(tmp_path / "run"),
                 "--val-fraction", value]) == 2
    assert f"val_fraction is the share held out, in [0, 1) (0.1 holds out a tenth), got {float(value)}" in \
        _one_line_error(capsys)
