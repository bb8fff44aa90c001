"""Synthetic rated images whose "aesthetic" is a known function of their pixels: the proof that training works.

The truth is `true_score`: 1 + 9 (0.65 mean brightness + 0.35 mean chroma), with per-pixel brightness
max(r, g, b) (HSV value) and chroma max(r, g, b) - min(r, g, b), both in [0, 1]. Images are smooth colour fields
with a gradient and grain, so the statistics are not readable from one pixel. Used by the tests and `bench/`;
never by the studio.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

BRIGHTNESS_WEIGHT, CHROMA_WEIGHT = 0.65, 0.35


def true_score(images: torch.Tensor) -> torch.Tensor:
    """Scores (B,) in [1, 10] of images (B, 3, H, W) in [0, 1]."""
    value = images.amax(dim=1)
    chroma = value - images.amin(dim=1)
    return 1.0 + 9.0 * (BRIGHTNESS_WEIGHT * value.mean(dim=(1, 2)) + CHROMA_WEIGHT * chroma.mean(dim=(1, 2)))


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # h, s, v: (B, H, W) in [0, 1] -> (B, 3, H, W)
    k = torch.stack([(5.0 + h * 6.0) % 6.0, (3.0 + h * 6.0) % 6.0, (1.0 + h * 6.0) % 6.0], dim=1)
    f = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return v[:, None] - v[:, None] * s[:, None] * f


def make_images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) images in [0, 1], quantised to 8 bits like the PNGs they become."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    hue = torch.rand(n, 1, 1, generator=g)
    sat = torch.rand(n, 1, 1, generator=g)
    val = 0.1 + 0.85 * torch.rand(n, 1, 1, generator=g)
    angle = torch.rand(n, 1, 1, generator=g) * 6.2832
    gradient = (torch.cos(angle) * xx + torch.sin(angle) * yy) * (0.25 * torch.rand(n, 1, 1, generator=g))
    grain = 0.06 * torch.randn(n, size, size, generator=g)
    h = (hue + 0.08 * gradient) % 1.0
    s = (sat + 0.5 * gradient + grain).clamp(0, 1)
    v = (val + gradient + grain).clamp(0, 1)
    rgb = _hsv_to_rgb(h, s, v).clamp(0, 1)
    return (rgb * 255).round() / 255


def write_synthetic_ratings(folder: str | Path, n: int = 1200, size: int = 32, seed: int = 0) -> Path:
    """Write n PNGs and `ratings.csv` (image, score, theme = warm/cool hue) under `folder`; returns the CSV path."""
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images = make_images(n, size, seed)
    scores = true_score(images)
    rows = []
    for i in range(n):
        array = (images[i].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        name = f"images/{i:05d}.png"
        Image.fromarray(array).save(folder / name)
        red, blue = float(images[i, 0].mean()), float(images[i, 2].mean())
        rows.append({"image": name, "score": f"{float(scores[i]):.4f}", "theme": "warm" if red >= blue else "cool"})
    path = folder / "ratings.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "score", "theme"])
        writer.writeheader()
        writer.writerows(rows)
    return path
