"""A studio with a few small pieces for the export tests (synthetic images, no generator, no torch)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curation.catalog import Catalog, Piece

BASE_URL = "https://dstrtd.example.org"


def artwork_png(seed: int, size: tuple[int, int] = (128, 128)) -> bytes:
    """Smooth colour fields with a few shifted bands, like a tiny VQGAN piece."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    arr = np.asarray(base).copy()
    for _ in range(3):
        y = int(rng.integers(0, size[1] - 8))
        arr[y:y + 6] = np.roll(arr[y:y + 6], int(rng.integers(-20, 20)), axis=1)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def loss_png() -> bytes:
    im = Image.new("RGB", (640, 400), "white")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def artwork() -> bytes:
    return artwork_png(7, (160, 160))


@pytest.fixture()
def base_url(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DSTRTD_BASE_URL", BASE_URL)
    return BASE_URL


@pytest.fixture()
def add_piece() -> Callable[..., Piece]:
    counter = iter(range(10_000))

    def add(catalog: Catalog, *, theme: str | None = "coral-reef", size: tuple[int, int] = (128, 128),
            status: str = "accepted", title: str = "", prompt: str = "a coral reef:1",
            with_loss_png: bool = False) -> Piece:
        seed = next(counter)
        files: dict[str, bytes] = {
            "image.png": artwork_png(seed, size),
            "settings.json": json.dumps({"prompts": [prompt, "text, watermark:-0.5"], "steps": 40, "seed": seed,
                                         "vqgan": "tiny", "perceptors": ["tiny"]}).encode(),
            "loss.csv": ("step,loss\n" + "\n".join(f"{i},{1.0 / (1 + i):.4f}" for i in range(40))).encode(),
        }
        if with_loss_png:
            files["loss.png"] = loss_png()
        return catalog.add_piece(files, prompt=prompt, theme=theme, seed=seed, title=title, status=status)

    return add


@pytest.fixture()
def catalog(studio) -> Catalog:  # type: ignore[no-untyped-def]
    with studio.catalog() as cat:
        yield cat


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"
