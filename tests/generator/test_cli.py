"""`dstrtd generate` and `dstrtd weights` end to end on the tiny preset; bad input gives one line and exit 2."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from installation.cli import main

TINY = ["--preset", "tiny", "--size", "64", "64", "--cutn", "8", "--device", "cpu"]


def test_generate_writes_the_piece_with_its_settings(tmp_path, capsys):
    out = tmp_path / "reef"
    code = main(["generate", "a coral reef:1", "blurry:-0.5", *TINY, "--steps", "3", "--seed", "5",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    with Image.open(out / "image.png") as im:
        text = im.text
        pixels = im.tobytes()
    assert json.loads(text["prompts"]) == ["a coral reef:1", "blurry:-0.5"]
    assert text["seed"] == "5" and json.loads(text["size"]) == [64, 64] and text["preset"] == "tiny"
    assert set(json.loads(text["weights_sha256"])) == {"tiny"}
    assert (out / "loss.csv").is_file() and (out / "loss.png").is_file()
    assert str(out) in capsys.readouterr().out

    # the settings reproduce the piece, bitwise
    again = tmp_path / "again"
    assert main(["generate", "--config", str(out / "settings.json"), "--out", str(again)]) == 0
    with Image.open(again / "image.png") as im:
        assert im.tobytes() == pixels


@pytest.mark.parametrize(("args", "message"), [
    (["--vqgan", "nope"], "unknown VQGAN 'nope'"),
    (["--perceptors", "ViT-Q-9:openai"], "unknown CLIP model 'ViT-Q-9'"),
    (["--preset", "huge"], "unknown preset 'huge'; known:"),
    (["--init_image", "{tmp}/missing.jpg"], "cannot read init image"),
    (["--init-image", "{tmp}/not-an-image.jpg"], "cannot read init image"),
    (["--size", "60", "60"], "size 60x60 is not a multiple of 8 .*use e.g. 64x64"),
    (["--steps", "-3"], "steps must be at least 1, got -3"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "not-an-image.jpg").write_text("hello")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = main(["generate", "a reef", *TINY, "--steps", "1", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dstrtd generate: error: "), err

    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(("args", "message", "allowed"), [
    (["--optimizer", "adamm"], "argument --optimizer: invalid choice: 'adamm'", "rmsprop"),
    (["--augments", "blur"], "argument --augments: invalid choice: 'blur'", "thin_plate"),
    (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8'", "bf16"),
])
def test_values_outside_the_allowed_ones_are_refused_with_them(tmp_path, capsys, args, message, allowed):
    with pytest.raises(SystemExit) as info:
        main(["generate", "a reef", *TINY, "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and allowed in err.split("choose from")[-1]
    assert "Traceback" not in err


def test_help_shows_every_default_and_the_allowed_values(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("--steps STEPS optimisation steps", "(default: 300)", "--init-weight INIT_WEIGHT, --init_weight",
                     "{classic,pooled}", "(default: classic)", "{adam,adamw,adamax,adagrad,radam,nadam,rmsprop,sgd}",
                     "(default: flip affine perspective jitter)", "--auto-stop, --no-auto-stop", "(default: 304 304)",
                     "(default: imagenet_16384)", "(default: the preset's)", "--threads", "--presets", "--config"):
        assert fragment in text, fragment


def test_default_preset_without_weights_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DSTRTD_OFFLINE", "1")
    code = main(["generate", "a reef", "--steps", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "vqgan_imagenet_f16_16384.ckpt" in err and "place it at" in err and "--preset tiny" in err


def test_weights_list_and_verify(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "vqgan_imagenet_f16_16384" in out and "clip_vit_b_32_openai" in out and "MIT" in out
    assert main(["weights", "verify", "tiny_weights_do_not_exist"]) == 2
    assert "unknown weights" in capsys.readouterr().err
    assert main(["weights", "verify", "clip_rn50_openai"]) == 0
    assert "missing" in capsys.readouterr().out


def test_weights_convert_needs_trust(tmp_path, capsys):
    assert main(["weights", "convert", str(tmp_path / "x.ckpt")]) == 2
    assert "--trust" in capsys.readouterr().err


def test_presets_are_listed(capsys):
    assert main(["generate", "--presets"]) == 0
    out = capsys.readouterr().out
    assert "imagenet_16384" in out and "tiny" in out


@pytest.mark.parametrize("layout", ["file", "inside-a-file", "earlier-piece"])
def test_the_output_folder_is_checked_before_generating(tmp_path, capsys, layout):
    (tmp_path / "taken.png").write_bytes(b"an earlier file")
    (tmp_path / "piece").mkdir()
    (tmp_path / "piece" / "image.png").write_bytes(b"an earlier piece")
    out = {"file": tmp_path / "taken.png", "inside-a-file": tmp_path / "taken.png" / "reef",
           "earlier-piece": tmp_path / "piece"}[layout]
    code = main(["generate", "a reef", *TINY, "--steps", "3", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"--out {out}" in err, err
    assert "generating" not in err  # refused before the first step
    assert (tmp_path / "taken.png").read_bytes() == b"an earlier file"
    assert (tmp_path / "piece" / "image.png").read_bytes() == b"an earlier piece"


def test_a_size_that_cannot_fit_in_memory_is_refused_before_any_model_loads(tmp_path, capsys):
    code = main(["generate", "a reef", "--preset", "tiny", "--device", "cpu", "--size", "40000", "40000",
                 "--out", str(tmp_path / "huge")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(r"size 40000x40000 needs about [\d.]+ GB but this machine's memory is [\d.]+ GB in all; the "
                     r"largest size of this shape that fits is (\d+)x\1$", err.strip()), err
    assert not (tmp_path / "huge").exists()


def test_one_argument_holds_several_prompts_joined_by_a_bar(tmp_path, capsys):
    out = tmp_path / "reef"
    assert main(["generate", "a coral reef:1|blurry:-0.5", *TINY, "--steps", "1", "--out", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["prompts"] == ["a coral reef:1", "blurry:-0.5"]
    assert set(settings["loss_terms"]) == {"text0", "text1"}
