"""Fixtures shared by every test package. Tests use tiny configs, random weights and no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep the two cores of a CI machine for the test itself, and never reach a model hub.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that need it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (it sits beside the checkout on our machines only)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own weights cache, so nothing leaks between tests or from the user's cache."""
    monkeypatch.setenv("DSTRTD_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("DSTRTD_STUDIO", raising=False)


@pytest.fixture()
def studio(tmp_path: Path):
    """A fresh studio folder with the default themes."""
    from curation.studio import init_studio

    return init_studio(tmp_path / "studio")
