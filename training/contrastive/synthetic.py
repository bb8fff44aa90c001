"""A small captioned image set made on the fly: coloured shapes on transparent backgrounds ("a red circle"),
labelled by shape for zero-shot accuracy. Small enough for the tests and the GPU checks; never used by the studio."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
           "purple": (140, 50, 170), "orange": (240, 140, 20)}
SHAPES = ("circle", "square", "triangle", "bar")


def draw_shape(path: Path, colour: tuple[int, int, int], shape: str, size: tuple[int, int] = (24, 18)) -> None:
    """One RGBA PNG of `shape` in `colour` at `path`."""
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


def write_shape_pairs(folder: Path) -> Path:
    """24 shape images + manifest.csv (image, caption, label) in `folder`; returns the manifest."""
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
