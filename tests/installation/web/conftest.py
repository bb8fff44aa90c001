"""A small studio with published, unpublished and hostile pieces, and a TestClient on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.studio import Studio, init_studio

from .support import MAGENTA, SETTINGS, loss_png, make_client, png


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Piece]]:
    studio = init_studio(tmp_path_factory.mktemp("web") / "studio")
    return studio.root, _add_pieces(studio)


@pytest.fixture()
def studio(_template: tuple[Path, dict[str, Piece]], tmp_path: Path) -> Studio:
    """A copy of one prepared studio (made once per session: copying is ten times faster than making)."""
    return Studio(Path(shutil.copytree(_template[0], tmp_path / "studio")))


@pytest.fixture()
def pieces(_template: tuple[Path, dict[str, Piece]], studio: Studio) -> dict[str, Piece]:
    """reef (magenta, loss curve, scores), reef2, glacier: published; draft, dropped: not; evil: hostile text."""
    return dict(_template[1])


def _add_pieces(studio: Studio) -> dict[str, Piece]:
    out = {}
    with studio.catalog() as cat:
        out["reef"] = cat.add_piece({"image.png": png(MAGENTA, (512, 512)), "loss.png": loss_png()},
                                    prompt="a coral reef:1", theme="coral-reef", seed=42, settings=SETTINGS,
                                    status="accepted")
        cat.add_score(out["reef"].id, "aesthetic", 6.84, version="tiny")
        cat.add_score(out["reef"].id, "aligner", 0.312)
        out["reef2"] = cat.add_piece({"image.png": png((0, 140, 140))}, prompt="a coral reef:1", theme="coral-reef",
                                     status="featured")
        out["glacier"] = cat.add_piece({"image.png": png((40, 90, 220))}, prompt="a glacier under a blue sky:1",
                                       theme="glacier", status="accepted")
        out["draft"] = cat.add_piece({"image.png": png((200, 30, 30))}, prompt="a coral reef:1", theme="coral-reef")
        out["dropped"] = cat.add_piece({"image.png": png((230, 230, 0))}, prompt="a wetland:1", theme="wetland",
                                       status="rejected")
        out["evil"] = cat.add_piece({"image.png": png((10, 10, 10))}, prompt='"><script>alert(1)</script>:1',
                                    title="<b>Bold</b> & <script>alert('t')</script>", status="accepted",
                                    settings={"vqgan": "<img src=x onerror=alert(2)>", "steps": "<i>many</i>"})
    return out


@pytest.fixture()
def client(studio: Studio, pieces: dict[str, Piece]) -> Iterator[TestClient]:
    with make_client(studio.root) as c:
        yield c
