"""Machines sharing one catalog on a PostgreSQL server: a gallery and a web server on other studio folders than the
worker's see its pieces (files fetched from the catalog), notice new ones by the revision, keep what they showed
while the server is down, and reconnect on their own. The server here is this test's own, so it can be stopped."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pgserver
import pytest
from PIL import Image

from curation.studio import Studio, init_studio
from installation.gallery.source import CatalogWatcher, Update
from installation.web import create_app
from installation.web.settings import WebSettings


@pytest.fixture()
def own_server(postgres_server: pgserver.PostgresServer) -> Iterator[pgserver.PostgresServer]:
    """A second server, for stopping (the session's one needs to stay up for the other tests)."""
    with pgserver.running(Path(tempfile.mkdtemp(prefix="dstrtd-pg-"))) as server:
        yield server


def publish(studio: Studio, color: tuple[int, int, int], tmp_path: Path) -> str:
    image = tmp_path / f"{color}.png"
    Image.new("RGB", (24, 16), color).save(image)
    with studio.catalog() as cat:
        return cat.add_piece({"image.png": image}, prompt="a glacier:1", theme="glacier", status="accepted").slug


def wait_for(poll: Callable[[], list[Update]], want: Callable[[list[str]], bool], timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for update in poll():
            if update.pieces is not None and want([p.slug for p in update.pieces]):
                return [p.slug for p in update.pieces]
        time.sleep(0.05)
    raise AssertionError("the watcher never showed what was expected")


def test_the_gallery_keeps_showing_through_an_outage_and_reconnects(own_server: pgserver.PostgresServer,
                                                                     tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "installation.gallery.source")
    url = own_server.create()
    gpu = init_studio(tmp_path / "gpu-box", catalog=url)
    wall = init_studio(tmp_path / "gallery-box", catalog=url)
    assert not wall.themes_path.exists()  # the themes are the catalog's, edited on the machine that has the file
    first = publish(gpu, (200, 0, 0), tmp_path)
    watcher = CatalogWatcher(wall.catalog_location, wall.root, poll=0.05)
    try:
        assert wait_for(watcher.poll, lambda slugs: slugs == [first]) == [first]
        assert (wall.root / "pieces" / first / "image.png").is_file()  # its file came with it
        polls = watcher.polls
        own_server.kill()
        while watcher.polls < polls + 10:  # ten looks at a catalog that is not there
            time.sleep(0.05)
        assert [u for u in watcher.poll() if u.pieces is not None] == []  # nothing replaces what is on the wall
        assert "cannot read the catalog" in caplog.text and "password" not in caplog.text
        own_server.start()
        second = publish(gpu, (0, 0, 200), tmp_path)
        assert sorted(wait_for(watcher.poll, lambda slugs: len(slugs) == 2)) == sorted([first, second])
        assert "catalog readable again" in caplog.text
    finally:
        watcher.close()


def test_the_web_reads_a_shared_catalog_answers_503_while_it_is_down_and_reconnects(
        own_server: pgserver.PostgresServer, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    url = own_server.create()
    gpu = init_studio(tmp_path / "gpu-box", catalog=url)
    web = init_studio(tmp_path / "web-box", catalog=url)
    slug = publish(gpu, (0, 160, 0), tmp_path)
    with TestClient(create_app(WebSettings(studio=web.root, catalog=url))) as client:
        assert client.get(f"/p/{slug}").status_code == 200
        image = client.get(f"/p/{slug}/image.png")
        assert image.status_code == 200 and image.content == (web.root / "pieces" / slug / "image.png").read_bytes()
        own_server.kill()
        assert client.get(f"/p/{slug}").status_code == 503
        own_server.start()
        deadline = time.monotonic() + 30
        while client.get(f"/p/{slug}").status_code != 200:  # the pool replaces its dead connections
            assert time.monotonic() < deadline
            time.sleep(0.2)
