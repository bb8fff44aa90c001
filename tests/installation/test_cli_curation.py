"""`dstrtd queue`, `dstrtd catalog`, `dstrtd curate` and `dstrtd studio` through `installation.cli.main`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from PIL import Image

from curation.defaults import DEFAULT_ENCODER, DEFAULT_SCORER
from installation.cli import build_parser, main
from installation.commands.curate import prompt_from_filename
from installation.worker import parse_job_prompts

RANDOM = ["--scorer", "tiny", "--encoder", "tiny", "--random-curators"]  # the tests say so: random curators decide


def test_queue_validates_and_records_settings(studio, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "a coral reef:1", "glitch:0.5", "--theme", "coral-reef", "--steps", "7",
                 "--size", "64", "48", "--count", "2", "--seed", "10"]) == 0
    assert "queued jobs 1, 2: a coral reef:1 | glitch:0.5 (theme coral-reef)" in capsys.readouterr().out
    assert main(["queue", "--studio", root, "--theme", "glacier", "--priority", "5"]) == 0
    with studio.catalog() as cat:
        jobs = cat.list_jobs()
        assert [j.settings for j in jobs[:2]] == [{"steps": 7, "size": [64, 48], "seed": 10},
                                                  {"steps": 7, "size": [64, 48], "seed": 11}]
        assert jobs[2].prompt.startswith("a glacier under a blue sky:1 | ") and jobs[2].priority == 5
    assert main(["queue", "--studio", root, "x:1", "--steps", "0"]) == 2
    assert "invalid job settings: steps must be at least 1" in capsys.readouterr().err
    assert main(["queue", "--studio", root, "x:1", "--theme", "nope"]) == 2
    assert "unknown theme 'nope'" in capsys.readouterr().err
    assert main(["queue", "--studio", root]) == 2
    assert "give a prompt" in capsys.readouterr().err
    assert main(["catalog", "jobs", "--studio", root]) == 0
    assert "queued" in capsys.readouterr().out


def test_queue_reads_prompts_with_the_one_parser(studio, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "a coral reef:1|blurry:-0.5"]) == 0
    with studio.catalog() as cat:
        [job] = cat.list_jobs()
    assert parse_job_prompts(job.prompt) == ("a coral reef:1", "blurry:-0.5")
    for bad in ("a reef:abc", "a reef:1:x"):
        assert main(["queue", "--studio", root, bad]) == 2
        err = capsys.readouterr().err
        assert f"prompt {bad!r}: the" in err and "text[:weight[:stop]]" in err and len(err.strip().splitlines()) == 1


def test_queue_checks_the_size_against_the_jobs_preset(studio, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "a reef:1", "--size", "100", "100"]) == 2
    err = capsys.readouterr().err
    assert "size 100x100 is not a multiple of 16" in err and "preset 'imagenet_16384'" in err and "--preset" in err
    assert main(["queue", "--studio", root, "a reef:1", "--size", "100", "100", "--preset", "tiny"]) == 2
    assert "size 100x100 is not a multiple of 8 (VQGAN 'tiny' of preset 'tiny'" in capsys.readouterr().err
    assert main(["queue", "--studio", root, "a reef:1", "--size", "104", "104", "--preset", "tiny"]) == 0
    with studio.catalog() as cat:
        assert [j.settings["size"] for j in cat.list_jobs()] == [[104, 104]]


def test_unknown_and_retired_themes_have_their_own_message(studio, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "--theme", "dunes"]) == 2
    assert "unknown theme 'dunes'; known themes: coral-reef, glacier, old-growth-forest, wetland" in \
        capsys.readouterr().err
    assert main(["curate", "--studio", root, "--images", str(_images(tmp_path / "imgs")), "--theme", "dunes"]) == 2
    assert "unknown theme 'dunes'" in capsys.readouterr().err  # before the curators load: none is named here
    studio.themes_path.write_text('[[theme]]\nname = "kelp"\nprompts = ["a kelp forest:1"]\n')
    assert main(["queue", "--studio", root, "--theme", "glacier"]) == 2
    assert "theme 'glacier' has no prompts: it was retired" in capsys.readouterr().err


def test_queue_without_a_studio_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "--studio", str(tmp_path / "none"), "x:1"]) == 2
    assert "dstrtd init" in capsys.readouterr().err


def _images(folder: Path) -> Path:
    folder.mkdir()
    for i, (name, rgb) in enumerate([("good__1_a_red_reef_6.png", (220, 30, 30)), ("b-blue-ice.jpg", (20, 40, 230)),
                                     ("c green moss.png", (30, 200, 40))]):
        Image.new("RGB", (40 + i, 30), rgb).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def test_curate_a_folder_then_list_and_show(studio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    folder = _images(tmp_path / "imgs")
    (studio.root / "selection.json").write_text(json.dumps({"min_aesthetic": 1.0, "min_alignment": -1.0,
                                                            "duplicate_cosine": 0.99999}))
    assert main(["curate", "--studio", root, "--images", str(folder), "--theme", "wetland", *RANDOM]) == 0
    out = capsys.readouterr().out
    assert "skipped broken.png: not a readable image" in out
    assert "imported 3 new image(s)" in out
    header = next(line for line in out.splitlines() if line.startswith("slug"))
    assert header.split() == ["slug", "aesthetic", "alignment", "cluster", "decision", "reasons"]
    assert "aesthetic" in out and "≥ 1.00" in out and "featured" in out
    # again: nothing new, nothing to curate
    assert main(["curate", "--studio", root, "--images", str(folder), *RANDOM]) == 0
    assert "imported 0 new image(s) from" in capsys.readouterr().out

    assert main(["catalog", "list", "--studio", root, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 3 and {p["theme"] for p in listed} == {"wetland"}
    assert {p["prompt"] for p in listed} == {"a red reef", "b blue ice", "c green moss"}
    assert all(set(p["scores"]) == {"aesthetic", "alignment"} and p["cluster"] is not None for p in listed)
    assert main(["catalog", "list", "--studio", root, "--status", "featured"]) == 0
    assert "1 piece(s)" in capsys.readouterr().out

    slug = listed[0]["slug"]
    assert main(["catalog", "show", slug, "--studio", root]) == 0
    shown = capsys.readouterr().out
    assert slug in shown and "decisions" in shown and "aesthetic" in shown and "imported_from" in shown
    assert main(["catalog", "show", slug, "--studio", root, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["files"] == ["image.png"] and info["decisions"][0]["reasons"]
    assert main(["catalog", "show", "nope", "--studio", root]) == 2
    assert "no piece 'nope'" in capsys.readouterr().err
    assert main(["catalog", "check", "--studio", root]) == 0


def test_a_decompression_bomb_is_skipped_and_the_import_goes_on(studio, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(folder / "a-red-reef.png")
    Image.new("1", (15000, 15000)).save(folder / "b-bomb.png")  # 225 Mpx in a few kB: Pillow calls it a bomb
    Image.new("RGB", (40, 30), (30, 30, 200)).save(folder / "c-blue-ice.png")
    code = main(["curate", "--studio", str(studio.root), "--images", str(folder), *RANDOM])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err and "unexpected error" not in err, err
    assert "skipped b-bomb.png: " in out and "decompression bomb" in out
    assert "imported 2 new image(s)" in out and "1 skipped: b-bomb.png" in out
    with studio.catalog() as cat:
        assert sorted(p.prompt for p in cat.list_pieces()) == ["a red reef", "c blue ice"]


def test_curate_on_a_missing_gpu_is_one_line(studio, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["curate", "--studio", str(studio.root), "--device", "cuda", *RANDOM]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("dstrtd curate: error: device 'cuda' asked for, but torch sees no CUDA GPU here; use "
                           "--device cpu or auto")


def test_curate_with_nothing_waiting(studio, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["curate", "--studio", str(studio.root), *RANDOM]) == 0
    assert "nothing to curate" in capsys.readouterr().out


def test_curate_reports_a_bad_policy(studio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"min_beauty": 1}')
    assert main(["curate", "--studio", str(studio.root), "--policy", str(bad)]) == 2
    assert "unknown field(s) min_beauty" in capsys.readouterr().err


def test_prompt_from_filename() -> None:
    assert prompt_from_filename(Path("good__13623_Abyss_swallowed_the_moon_6.png")) == "Abyss swallowed the moon"
    assert prompt_from_filename(Path("coral-reef.jpg")) == "coral reef"
    assert prompt_from_filename(Path("123.png")) == ""


def test_studio_command_runs_queued_jobs_on_tiny(studio, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "--theme", "coral-reef", "--seed", "3"]) == 0
    assert main(["studio", "--studio", root, "--preset", "tiny", "--device", "cpu", "--idle-exit", "--no-sample",
                 *RANDOM, "--size", "48", "48", "--steps", "3", "--cutn", "4"]) == 0
    capsys.readouterr()
    assert main(["catalog", "list", "--studio", root, "--json"]) == 0
    [piece] = json.loads(capsys.readouterr().out)
    assert piece["seed"] == 3 and piece["size"] == [48, 48] and piece["status"] != "generated"
    assert main(["studio", "--studio", root, "--preset", "nope", "--idle-exit"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("weights", ["missing", "corrupt"])
def test_studio_stops_on_missing_or_corrupt_weights(studio, weights: str, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    import os

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if weights == "corrupt":
        cache = Path(os.environ["DSTRTD_CACHE"]) / "weights"
        cache.mkdir(parents=True)
        (cache / "vqgan_imagenet_f16_1024.ckpt").write_bytes(os.urandom(4096))
    root = str(studio.root)
    assert main(["queue", "--studio", root, "a coral reef:1"]) == 0
    assert main(["studio", "--studio", root, "--preset", "imagenet_1024", "--device", "cpu", "--no-sample"]) == 2
    assert "cannot load the models of preset 'imagenet_1024'" in caplog.text
    assert "vqgan_imagenet_f16_1024" in caplog.text
    with studio.catalog() as cat:
        [job] = cat.list_jobs()
        assert (job.status, job.attempts) == ("queued", 0)  # untouched: the worker stopped before claiming


@pytest.mark.parametrize("command", ["curate", "studio"])
def test_curate_and_studio_share_the_curator_defaults_shown_in_help(command: str) -> None:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(action.choices[command].format_help().split())
    assert f"(default: {DEFAULT_SCORER})" in text and f"(default: {DEFAULT_ENCODER})" in text
    assert "--random-curators" in text


@pytest.mark.parametrize("curators", [[], ["--scorer", "tiny"], ["--encoder", "tiny"],
                                      ["--encoder", "ViT-B-32:random"]])
def test_random_curators_never_decide_a_studio_unasked(studio, tmp_path: Path, curators: list[str],
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSTRTD_OFFLINE", "1")  # the real curators' weights are not here: the defaults stop on that
    root = str(studio.root)
    folder = _images(tmp_path / "imgs")
    code = main(["curate", "--studio", root, "--images", str(folder), *curators])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    if curators:  # random weights asked for without --random-curators
        assert "random weights" in err and "--random-curators" in err and "--scorer laion-vit-b-32" in err
    else:  # the defaults are the real curators, the same as the studio's
        assert "laion" in err and "random" not in err
    with studio.catalog() as cat:
        assert cat.list_pieces() == []  # refused before importing or deciding anything


def test_studio_refuses_random_curators_before_loading_models(studio, capsys: pytest.CaptureFixture[str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "a coral reef:1"]) == 0
    assert main(["studio", "--studio", root, "--preset", "tiny", "--device", "cpu", "--idle-exit", "--no-sample",
                 "--scorer", "tiny", "--encoder", "tiny"]) == 2
    assert "random weights" in caplog.text and "--random-curators" in caplog.text
    assert "loading models" not in caplog.text
    with studio.catalog() as cat:
        assert [j.status for j in cat.list_jobs()] == ["queued"]


def test_imported_images_are_recorded_as_photographs_with_their_photographer(studio, tmp_path: Path) -> None:
    """A manifest.csv beside the images (as ../shared/data/nature has), else 'Title by Name' in the file name, else
    --credit: each imported piece says it is a photograph and whose."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, rgb in (("plasma__Path.png", (30, 90, 40)), ("lomiri__Dragonfly_by_Bolly.png", (200, 180, 20)),
                      ("reef at dawn.png", (20, 90, 200))):
        Image.new("RGB", (40, 30), rgb).save(folder / name)
    (folder / "manifest.csv").write_text("file,author,license\nplasma__Path.png,Risto Saukonpää,LGPLv3\n")
    assert main(["curate", "--studio", str(studio.root), "--images", str(folder), "--theme", "wetland",
                 "--credit", "Ana Lúcia", "--licence", "CC BY 4.0", *RANDOM]) == 0
    with studio.catalog() as cat:
        found = {p.title: p.settings for p in cat.list_pieces()}
    assert {t: (s["kind"], s["credit"], s["licence"]) for t, s in found.items()} == {
        "Path": ("photo", "Risto Saukonpää", "LGPLv3"), "Dragonfly": ("photo", "Bolly", "CC BY 4.0"),
        "reef at dawn": ("photo", "Ana Lúcia", "CC BY 4.0")}
    assert all(s["imported_from"].startswith(str(folder)) for s in found.values())


def test_queue_refuses_what_the_worker_would_refuse(studio, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(studio.root)
    assert main(["queue", "--studio", root, "a reef:1", "--priority", "1000"]) == 2
    assert "priority must be a whole number from -100 to 100, not 1000" in capsys.readouterr().err
    assert main(["queue", "--studio", root, "a reef \ud800:1"]) == 2
    assert "lone surrogate" in capsys.readouterr().err
    with studio.catalog() as cat:
        assert cat.list_jobs() == []
