"""Control endpoints: only with the token; each writes exactly what it says to the catalog, and bad input is a 4xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.studio import Studio

from .support import TOKEN, make_client

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def control_calls(pieces: dict[str, Piece]) -> list[tuple[str, str, dict | None]]:
    return [("POST", "/api/control/queue", {"prompt": "a glacier:1"}),
            ("POST", f"/api/control/pieces/{pieces['draft'].slug}/decision", {"decision": "accepted", "by": "ana"}),
            ("POST", "/api/control/display/next", None),
            ("GET", "/api/control/pieces", None)]


def test_without_a_configured_token_control_is_disabled(studio: Studio, pieces: dict[str, Piece]) -> None:
    with make_client(studio.root, token=None) as c:
        for method, path, body in control_calls(pieces):
            r = c.request(method, path, json=body, headers=AUTH)
            assert r.status_code == 403, path
            assert "disabled" in r.json()["detail"] and "DSTRTD_WEB_TOKEN" in r.json()["detail"]
    with studio.catalog() as cat:
        assert cat.list_jobs() == [] and cat.take_commands("display") == []
        assert cat.get_piece(pieces["draft"].id).status == "generated"


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", TOKEN,
                                    f"bearer  {TOKEN[:-1]}"])
def test_a_wrong_or_missing_token_is_401(client: TestClient, pieces: dict[str, Piece], header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path, body in control_calls(pieces):
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (header, path)


def test_a_non_ascii_token_is_401_not_500(client: TestClient) -> None:
    r = client.post("/api/control/display/next", headers={"Authorization": "Bearer caf\xe9".encode("latin-1")})
    assert r.status_code == 401


def test_queue_a_prompt(client: TestClient, studio: Studio) -> None:
    auth = {"Authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive (RFC 9110)
    r = client.post("/api/control/queue", headers=auth, json={"prompt": "  a glacier at dawn:1 ", "theme": "glacier",
                                                              "priority": 5, "settings": {"steps": 300, "seed": 7}})
    assert r.status_code == 201
    with studio.catalog() as cat:
        job = cat.get_job(r.json()["job"])
    assert (job.prompt, job.theme, job.priority, job.settings) == ("a glacier at dawn:1", "glacier", 5,
                                                                   {"steps": 300, "seed": 7})


@pytest.mark.parametrize("body", [
    {"prompt": ""}, {"prompt": "   "}, {"prompt": 5}, {"prompt": ["a"]}, {}, {"prompt": "a\x00b"},
    {"prompt": "a\nb"}, {"prompt": "x" * 501}, {"prompt": "a", "priority": "3"}, {"prompt": "a", "priority": 1.5},
    {"prompt": "a", "priority": 10**6}, {"prompt": "a", "priority": True}, {"prompt": "a", "theme": 3},
    {"prompt": "a", "theme": "no-such-theme"}, {"prompt": "a", "settings": {"steps": {"nested": 1}}},
    {"prompt": "a", "settings": [1]}, {"prompt": "a", "settings": {f"k{i}": i for i in range(40)}},
    {"prompt": "a", "shell": "rm -rf /"}, [{"prompt": "a"}], "a prompt", None,
])
def test_bad_queue_requests_are_422(client: TestClient, studio: Studio, body: object) -> None:
    r = client.post("/api/control/queue", headers=AUTH, json=body)
    assert r.status_code == 422, r.text
    with studio.catalog() as cat:
        assert cat.list_jobs() == []


@pytest.mark.parametrize(("content", "ctype"), [
    (b"{nope", "application/json"), (b"\xff\xfe\x00", "application/json"), (b'{"prompt": "a"', "application/json"),
    (b"", "application/json"), (b'{"prompt": "a"}', "text/plain"), (b"prompt=a", "application/x-www-form-urlencoded"),
])
def test_malformed_bodies_are_4xx(client: TestClient, content: bytes, ctype: str) -> None:
    r = client.post("/api/control/queue", headers=AUTH | {"Content-Type": ctype}, content=content)
    assert 400 <= r.status_code < 500, (content, r.status_code, r.text)


def test_unknown_theme_says_which(client: TestClient) -> None:
    r = client.post("/api/control/queue", headers=AUTH, json={"prompt": "a:1", "theme": "moon"})
    assert r.status_code == 422 and "unknown theme 'moon'" in r.json()["detail"]


def test_approve_and_reject(client: TestClient, studio: Studio, pieces: dict[str, Piece]) -> None:
    draft, reef = pieces["draft"], pieces["reef"]
    assert client.get(f"/p/{draft.slug}").status_code == 404
    r = client.post(f"/api/control/pieces/{draft.slug}/decision", headers=AUTH,
                    json={"decision": "accepted", "by": "Ana"})
    assert r.status_code == 200 and r.json() == {"slug": draft.slug, "status": "accepted"}
    assert client.get(f"/p/{draft.slug}").status_code == 200
    assert client.post(f"/api/control/pieces/{reef.slug}/decision", headers=AUTH,
                       json={"decision": "rejected", "by": "Bo"}).status_code == 200
    assert client.get(f"/p/{reef.slug}").status_code == 404
    with studio.catalog() as cat:
        assert cat.decisions(draft.id)[-1].reasons == ("by Ana via web",)
        assert [d.decision for d in cat.decisions(reef.id)] == ["rejected"]


@pytest.mark.parametrize(("slug", "body", "status"), [
    ("no-such-piece", {"decision": "accepted", "by": "a"}, 404), ("..", {"decision": "accepted", "by": "a"}, 404),
    ("UPPER", {"decision": "accepted", "by": "a"}, 404), (None, {"decision": "generated", "by": "a"}, 422),
    (None, {"decision": "accepted"}, 422), (None, {"decision": "accepted", "by": ""}, 422),
    (None, {"decision": "accepted", "by": "x" * 65}, 422), (None, {"decision": "accepted", "by": "a\nb"}, 422),
    (None, {"decision": ["accepted"], "by": "a"}, 422), (None, {"decision": "accepted", "by": "a", "why": 1}, 422),
])
def test_bad_decisions(client: TestClient, studio: Studio, pieces: dict[str, Piece], slug: str | None, body: dict,
                       status: int) -> None:
    r = client.post(f"/api/control/pieces/{slug or pieces['draft'].slug}/decision", headers=AUTH, json=body)
    assert r.status_code == status
    with studio.catalog() as cat:
        assert cat.get_piece(pieces["draft"].id).status == "generated"


def test_display_commands_reach_the_gallery(client: TestClient, studio: Studio) -> None:
    for command in ("next", "pause", "resume", "previous", "reload"):
        r = client.post(f"/api/control/display/{command}", headers=AUTH)
        assert r.status_code == 202 and r.json()["command"] == command
    for bad in ("explode", "NEXT", "next%00", "..%2fnext"):
        assert client.post(f"/api/control/display/{bad}", headers=AUTH).status_code in (404, 422), bad
    with studio.catalog() as cat:
        assert [c for c, _ in cat.take_commands("display")] == ["next", "pause", "resume", "previous", "reload"]


def test_list_pieces_waiting_for_a_decision(client: TestClient, pieces: dict[str, Piece]) -> None:
    r = client.get("/api/control/pieces", headers=AUTH)
    assert [p["slug"] for p in r.json()] == [pieces["draft"].slug]
    rejected = client.get("/api/control/pieces", headers=AUTH, params={"status": "rejected"}).json()
    assert [p["slug"] for p in rejected] == [pieces["dropped"].slug]
    assert client.get("/api/control/pieces", headers=AUTH, params={"status": "all"}).status_code == 422


@pytest.mark.parametrize(("body", "message"), [
    (b'{"prompt": "a glacier:1", "priority": 1e999}', "priority"),
    (b'{"prompt": "a glacier \\ud800:1"}', "prompt"),
    (b'{"prompt": "a glacier:1", "theme": "glacier\\udfff"}', "theme"),
    (b'{"prompt": "a glacier:1", "settings": {"\\ud800": 1}}', "settings"),
    (b'{"prompt": "a glacier:1", "settings": {"steps": NaN}}', "settings['steps'] must be a finite number"),
    (b'{"prompt": "a glacier:1", "settings": {"lr": 1e999}}', "settings['lr'] must be a finite number"),
    (b'{"prompt": "a glacier:1", "settings": {"bogus": 1}}', "unknown setting(s) bogus"),
    (b'{"prompt": "a glacier:1", "settings": {"studio": "x"}}', "unknown setting(s) studio"),
    (b'{"prompt": "a glacier:1", "settings": {"steps": 0}}', "steps must be at least 1"),
    (b'{"prompt": "a glacier:1", "settings": {"init_image": "/etc/passwd"}}', "lies outside the studio"),
    (b'{"prompt": "a glacier:1", "settings": {"image_prompts": ["../../x.png"]}}', "lies outside the studio"),
])
def test_queue_requests_are_checked_as_dstrtd_queue_checks_them(client: TestClient, studio: Studio, body: bytes,
                                                                message: str) -> None:
    """Each of these answered 500 or was stored for the worker to refuse later: now a 422 that says why."""
    r = client.post("/api/control/queue", headers=AUTH | {"Content-Type": "application/json"}, content=body)
    assert r.status_code == 422 and message in r.text, r.text
    with studio.catalog() as cat:
        assert cat.list_jobs() == []


def test_an_init_image_in_the_studio_is_queued_with_its_full_path(client: TestClient, studio: Studio) -> None:
    from PIL import Image

    (studio.root / "inputs").mkdir()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(studio.root / "inputs" / "reef.png")
    r = client.post("/api/control/queue", headers=AUTH, json={
        "prompt": "a reef:1", "priority": 100, "settings": {"init_image": "inputs/reef.png", "init_weight": 0.5}})
    assert r.status_code == 201, r.text
    with studio.catalog() as cat:
        job = cat.get_job(r.json()["job"])
    assert job.settings == {"init_image": str((studio.root / "inputs" / "reef.png").resolve()), "init_weight": 0.5}
