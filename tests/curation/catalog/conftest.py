"""A catalog with one theme, and small PNG files to add as pieces."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from curation.catalog import Catalog, Theme


@pytest.fixture()
def cat(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "studio" / "catalog.sqlite") as c:
        c.upsert_theme(Theme(name="coral-reef", title="Coral reef", prompts=("a coral reef:1",)))
        yield c


@pytest.fixture()
def png(tmp_path: Path) -> Callable[..., Path]:
    """png(name="a.png", size=(8, 6), color=(1, 2, 3)) -> the path of a new flat PNG in tmp_path."""

    def make(name: str = "a.png", size: tuple[int, int] = (8, 6), color: tuple[int, int, int] = (1, 2, 3)) -> Path:
        from PIL import Image

        path = tmp_path / name
        Image.new("RGB", size, color).save(path)
        return path

    return make
