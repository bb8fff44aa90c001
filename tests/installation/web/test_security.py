"""Hostile requests: traversal in every spelling, odd slugs, huge or chunked bodies. Always a 4xx, never a file."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece

from .support import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRETS = (b"SQLite format", b"root:", b"[[theme]]", b"import ")


def probes(slug: str) -> list[str]:
    return [
        "/p/..%2fcatalog.sqlite", "/p/..%2f..%2f..%2fetc%2fpasswd", "/p/..%2fcatalog.sqlite/image.png",
        "/p/%2e%2e/image.png", "/p/%2e%2e%2f%2e%2e%2fetc%2fpasswd/image.png", "/p/%2Fetc%2Fpasswd/image.png",
        "/p/%2fetc%2fpasswd", "/p//etc/passwd", f"/p/{slug}/..%2f..%2fcatalog.sqlite", f"/p/{slug}/settings.json",
        f"/p/{slug}/loss.csv", f"/p/{slug}/image.png%00.txt", f"/p/{slug}%00",
        f"/p/{slug}/%2e%2e%2f%2e%2e%2fthemes.toml",
        "/static/..%2f..%2fapp.py", "/static/%2e%2e%2fapp.py", "/static/style.css%2f..%2f..%2fapp.py",
        "/t/..%2f..%2fcatalog.sqlite", "/api/pieces/..%2f..%2fcatalog.sqlite", "/api/themes/%2e%2e",
        "/p/" + "a" * 10_000, "/p/%ff%fe", "/p/caf%C3%A9", "/p/%E2%80%AEgnp.exe", "/p/a%20b", "/p/REEF-abc",
        "/catalog.sqlite", "/themes.toml", "/pieces", "/pieces/" + slug + "/image.png",
    ]


def test_traversal_and_odd_paths_are_4xx(client: TestClient, pieces: dict[str, Piece]) -> None:
    for path in probes(pieces["reef"].slug):
        r = client.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert not any(s in r.content for s in SECRETS), path


def test_huge_bodies_are_refused_before_any_route(client: TestClient, studio) -> None:
    big = b'{"prompt": "' + b"a" * 200_000 + b'"}'
    r = client.post("/api/control/queue", headers=AUTH | {"Content-Type": "application/json"}, content=big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold for a streamed body too
        for _ in range(100):
            yield b"a" * 4096

    r = client.post("/api/control/queue", headers=AUTH | {"Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413
    assert client.request("GET", "/", content=b"x" * 100_000).status_code == 413  # even where no body is expected
    with studio.catalog() as cat:
        assert cat.list_jobs() == []


def test_a_body_just_under_the_limit_is_read(client: TestClient) -> None:
    # why no unknown setting any more: a job the worker would refuse is refused when queued
    body = b'{"prompt": "a' + b"n" * 400 + b':1", "settings": {"steps": 30}}' + b" " * 60_000
    r = client.post("/api/control/queue", headers=AUTH | {"Content-Type": "application/json"}, content=body)
    assert r.status_code == 201


@pytest.mark.parametrize("path", ["/", "/p/{slug}", "/api/pieces", "/p/{slug}/image.png", "/nowhere"])
def test_security_headers(client: TestClient, pieces: dict[str, Piece], path: str) -> None:
    r = client.get(path.format(slug=pieces["reef"].slug))
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "server" not in r.headers or "uvicorn" not in r.headers["server"]


def test_wrong_methods_are_405(client: TestClient, pieces: dict[str, Piece]) -> None:
    slug = pieces["reef"].slug
    for method, path in (("POST", f"/p/{slug}"), ("PUT", f"/p/{slug}/image.png"), ("DELETE", "/"),
                         ("GET", "/api/control/queue"), ("PATCH", "/api/pieces")):
        assert client.request(method, path, headers=AUTH).status_code == 405, (method, path)


def test_a_vanished_catalog_is_503_not_500_and_is_not_recreated(client: TestClient, studio,
                                                                pieces: dict[str, Piece]) -> None:
    for suffix in ("", "-wal", "-shm"):
        studio.catalog_path.with_name(studio.catalog_path.name + suffix).unlink(missing_ok=True)
    for method, path in (("GET", "/"), ("GET", f"/p/{pieces['reef'].slug}"), ("GET", "/api/pieces"),
                         ("POST", "/api/control/display/next")):
        r = client.request(method, path, headers=AUTH)
        assert r.status_code == 503 and str(studio.root) not in r.text, (path, r.status_code)
    assert not studio.catalog_path.exists()
