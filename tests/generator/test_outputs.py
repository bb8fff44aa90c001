"""write_piece: the files of a piece, the settings inside the PNG, the loss trace and plot."""

from __future__ import annotations

import csv
import json

from PIL import Image

from generator.config import GenerateConfig
from generator.outputs import read_png_metadata, write_piece
from generator.pipeline import run

from .conftest import tiny_config


def test_write_piece(tiny_models, tmp_path):
    result = run(tiny_config(prompts=("a coral reef:1", "blurry:-0.5"), steps=4, save_every=2), tiny_models)
    files = write_piece(tmp_path / "piece", result)
    assert set(files) == {"image.png", "settings.json", "loss.csv", "loss.png", "frame-00000.png",
                          "frame-00002.png", "frame-00003.png"}
    assert all(p.parent == tmp_path / "piece" and p.is_file() for p in files.values())
    assert not [p for p in (tmp_path / "piece").iterdir() if p.name.startswith(".")]  # no temporary files left

    with Image.open(files["image.png"]) as im:
        assert im.size == (64, 64)
        text = im.text
    assert json.loads(text["prompts"]) == ["a coral reef:1", "blurry:-0.5"]
    assert text["seed"] == "0" and text["vqgan"] == "tiny"
    assert json.loads(text["weights_sha256"]) == result.metadata["weights_sha256"]
    meta = read_png_metadata(files["image.png"])
    settings = json.loads(files["settings.json"].read_text())
    assert meta == json.loads(json.dumps(result.metadata)) == settings
    fields = set(GenerateConfig.field_names())
    config = GenerateConfig.from_dict({k: v for k, v in settings.items() if k in fields})
    assert config.to_dict() == {k: settings[k] for k in fields}

    rows = list(csv.DictReader(files["loss.csv"].open()))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3]
    assert {"step", "loss", "lr", "text0", "text1"} <= set(rows[0])
    with Image.open(files["loss.png"]) as plot:
        assert plot.size[0] >= 600
