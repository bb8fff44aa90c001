"""The read-only JSON API: paged published pieces, one piece with how it was made, the themes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece

from .support import BASE


def test_pieces_are_paged_newest_first(client: TestClient, pieces: dict[str, Piece]) -> None:
    first = client.get("/api/pieces", params={"limit": 3}).json()
    assert first["total"] == 4 and first["offset"] == 0 and first["limit"] == 3
    assert [p["slug"] for p in first["items"]] == [pieces[k].slug for k in ("evil", "glacier", "reef2")]
    assert first["next"] == f"{BASE}/api/pieces?offset=3&limit=3"
    second = client.get(first["next"].removeprefix(BASE)).json()
    assert [p["slug"] for p in second["items"]] == [pieces["reef"].slug] and second["next"] is None
    item = second["items"][0]
    assert item["url"] == f"{BASE}/p/{pieces['reef'].slug}" and item["image"] == item["url"] + "/image.png"
    assert item["scores"] == {"aesthetic": 6.84, "aligner": 0.312} and item["title"] == "Coral reef"
    assert client.get("/api/pieces", params={"offset": 100}).json()["items"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"}, {"offset": -1},
                                    {"offset": "1.5"}, {"offset": 10**12}, {"limit": "9" * 40}])
def test_bad_paging_is_422(client: TestClient, params: dict) -> None:
    r = client.get("/api/pieces", params=params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"


def test_one_piece_with_how_it_was_made(client: TestClient, pieces: dict[str, Piece]) -> None:
    reef = client.get(f"/api/pieces/{pieces['reef'].slug}").json()
    assert reef["loss_curve"] == f"{BASE}/p/{pieces['reef'].slug}/loss.png"
    assert reef["settings"]["steps"] == 250 and reef["seed"] == 42 and reef["theme"] == "coral-reef"
    assert reef["settings"]["vqgan"] == "vqgan_imagenet_f16_16384.ckpt", "local paths are reduced to names"
    assert client.get(f"/api/pieces/{pieces['reef2'].slug}").json()["loss_curve"] is None


@pytest.mark.parametrize("slug", ["no-such-piece", "UPPER", "a%20b", "%2e%2e", "%2e%2e%2f", "x" * 500, "%00", "-a-"])
def test_unknown_or_odd_slugs_are_404(client: TestClient, slug: str) -> None:
    r = client.get(f"/api/pieces/{slug}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json" and "detail" in r.json()


def test_themes(client: TestClient) -> None:
    themes = {t["name"]: t for t in client.get("/api/themes").json()}
    assert set(themes) == {"coral-reef", "old-growth-forest", "glacier", "wetland"}
    assert themes["coral-reef"]["pieces"] == 2 and themes["glacier"]["pieces"] == 1 and themes["wetland"]["pieces"] == 0
    assert themes["coral-reef"]["url"] == f"{BASE}/t/coral-reef" and themes["coral-reef"]["reflection"]
    assert client.get("/api/themes/glacier").json() == themes["glacier"]
    assert client.get("/api/themes/nope").status_code == 404


def test_the_schema_is_published_and_the_api_is_read_only(client: TestClient) -> None:
    assert "/api/pieces" in client.get("/api/openapi.json").json()["paths"]
    assert client.post("/api/pieces", json={}).status_code == 405
    assert client.delete("/api/themes/glacier").status_code == 405


def test_the_api_never_shows_the_workers_host_or_pid(client: TestClient, studio) -> None:
    """A piece as the worker stores it: its name (host:pid), job and bookkeeping stay in the studio."""
    import os
    import socket

    from curation.catalog import default_worker_name

    from .support import SETTINGS, png

    worker = default_worker_name()
    host, pid = socket.gethostname(), str(os.getpid())
    assert host in worker and pid in worker
    settings = {**SETTINGS, "worker": worker, "job_id": 7, "studio": {"nan_restarts": 1, "failed_seeds": [3]},
                "imported_from": f"/home/{host}/photos/reef.jpg", "versions": {"python": "3.11.7"}}
    with studio.catalog() as cat:
        piece = cat.add_piece({"image.png": png((1, 2, 3))}, prompt="a coral reef:1", theme="coral-reef",
                              settings=settings, status="accepted")
    body = client.get(f"/api/pieces/{piece.slug}").text
    shown = client.get(f"/api/pieces/{piece.slug}").json()["settings"]
    assert worker not in body and f"{host}:" not in body and f"/home/{host}" not in body and f":{pid}" not in body
    assert "failed_seeds" not in body and "job_id" not in body and "worker" not in shown
    from curation.public import PUBLIC_SETTINGS

    assert set(shown) <= PUBLIC_SETTINGS and shown["steps"] == 250 and shown["versions"] == {"python": "3.11.7"}


def test_every_generator_setting_is_decided_public_or_not() -> None:
    """The allow-list names each of the generator's settings, so a new one is a decision, not a leak or a gap."""
    from dataclasses import fields

    from curation.public import PUBLIC_SETTINGS
    from generator.config import GenerateConfig

    assert {f.name for f in fields(GenerateConfig)} <= PUBLIC_SETTINGS
