"""Fixtures shared by every test package. Tests use tiny configs, random weights and no network."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _load_pgserver():  # -> module
    """tests/pgserver.py as the module `pgserver`, without putting tests/ on sys.path (its folders curation/,
    generator/ ... would shadow the real packages as namespace packages where the checkout is not on the path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pgserver", Path(__file__).resolve().parent / "pgserver.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgserver"] = module
    spec.loader.exec_module(module)
    return module


pgserver = _load_pgserver()

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgserver.PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (tests/pgserver.py); skips, saying why, only where
    PostgreSQL or psycopg is not installed (CI installs both)."""
    reason = pgserver.why_unavailable()
    if reason is not None:
        pytest.skip(reason)
    # why mkdtemp: a short path in /tmp that the postgres user can reach (pytest's tmp folders are root's, 0700)
    with pgserver.running(Path(tempfile.mkdtemp(prefix="dstrtd-pg-"))) as server:
        yield server


@pytest.fixture()
def catalog_url(postgres_server: pgserver.PostgresServer) -> Iterator[str]:
    """A fresh, migrated catalog database on the session's server, dropped after the test."""
    url = postgres_server.create()
    yield url
    postgres_server.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both catalog backends, one after the other."""
    return request.param


@pytest.fixture()
def studio_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """None for SQLite (the studio's own catalog.sqlite), else a fresh catalog database's URL."""
    return request.getfixturevalue("catalog_url") if backend == "postgresql" else None
