"""The studio of the worker tests on each catalog backend (SQLite, then a real PostgreSQL server), its catalog open
for the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from curation.catalog import Catalog
from curation.studio import Studio, init_studio


@pytest.fixture()
def studio(tmp_path: Path, studio_url: str | None) -> Studio:
    """A fresh studio folder with the default themes, its catalog on the backend of the run."""
    return init_studio(tmp_path / "studio", catalog=studio_url)


@pytest.fixture()
def cat(studio: Studio) -> Iterator[Catalog]:
    with studio.catalog() as c:
        yield c

