"""The catalog of the `studio` fixture (tests/conftest.py), open for the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from curation.catalog import Catalog
from curation.studio import Studio


@pytest.fixture()
def cat(studio: Studio) -> Iterator[Catalog]:
    with studio.catalog() as c:
        yield c
