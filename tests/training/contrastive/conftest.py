"""Small image-text sets made on the fly: coloured shapes on transparent backgrounds, captioned and labelled."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
           "purple": (140, 50, 170), "orange": (240, 140, 20)}
SHAPES = ("circle", "square", "triangle", "bar")


def draw_shape(path: Path, colour: tuple[int, int, int], shape: str, size: tuple[int, int] = (24, 18)) -> None:
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    w, h = size
    box = (3, 3, w - 4, h - 4)
    if shape == "circle":
        d.ellipse(box, fill=(*colour, 255))
    elif shape == "square":
        d.rectangle(box, fill=(*colour, 255))
    elif shape == "triangle":
        d.polygon([(w // 2, 2), (w - 3, h - 3), (2, h - 3)], fill=(*colour, 255))
    else:
        d.rectangle((2, h // 2 - 2, w - 3, h // 2 + 2), fill=(*colour, 255))
    im.save(path)


def make_pairs(folder: Path) -> Path:
    """24 shape images + manifest.csv (image, caption, label); returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for colour, rgb in COLOURS.items():
        for shape in SHAPES:
            name = f"{colour}-{shape}.png"
            draw_shape(folder / name, rgb, shape)
            rows.append({"image": name, "caption": f"a {colour} {shape}", "label": shape})
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "caption", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="session")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pairs(tmp_path_factory.mktemp("pairs"))


@pytest.fixture()
def tiny_config():
    from training.contrastive.config import load_config

    # 24 pairs: 6 held out, 18 to train on, 2 steps of 8 per epoch
    return load_config("tiny").replace(batch_size=8, epochs=2, val_fraction=0.25, eval_train_max=8, log_every=1,
                                       warmup_epochs=1)
