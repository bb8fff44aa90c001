"""A catalog with one theme on each backend (SQLite, then a real PostgreSQL server), and small PNG files to add."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from curation.catalog import Catalog, Theme


@pytest.fixture()
def location(tmp_path: Path, studio_url: str | None) -> str | Path:
    """Where the test's catalog is: a SQLite file in the studio folder, or a database on the test server."""
    return studio_url or tmp_path / "studio" / "catalog.sqlite"


@pytest.fixture()
def cat(tmp_path: Path, location: str | Path) -> Iterator[Catalog]:
    with Catalog(location, root=tmp_path / "studio") as c:
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
