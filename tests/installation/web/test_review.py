"""The artist's review page (/review): login with the control token, a signed session cookie, CSRF on every POST,
decisions, titles and reflections written to the catalog, and everything under a sub-path too."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app
from installation.web.app import SECURITY_HEADERS
from installation.web.review_session import COOKIE, SESSION_S, check_session, csrf_token, make_session
from installation.web.session_store import SESSIONS_FILE
from installation.web.settings import WebSettingsError

from .proxy import PREFIX, SUB_BASE, Proxy, links
from .support import BASE, TOKEN

PUBLIC_CSP = dict(SECURITY_HEADERS)[b"content-security-policy"].decode()
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def review_client(root: Path, token: str | None = TOKEN, base_url: str = BASE, *, client: str = "testclient",
                  trusted_proxies: tuple[str, ...] = ()) -> TestClient:
    # why https: the cookie is Secure on an https base URL, and a client only sends it back over https
    settings = WebSettings(studio=root, base_url=base_url, token=token, trusted_proxies=trusted_proxies)
    return TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False,
                      client=(client, 50000))


def login(client: TestClient, prefix: str = "", name: str = "Ana") -> None:
    r = client.post(f"{prefix}/review/login", data={"token": TOKEN, "name": name})
    assert r.status_code == 303, r.text


def csrf(page: str) -> str:
    found = set(CSRF_RE.findall(page))
    assert len(found) == 1, found
    return found.pop()


@pytest.fixture()
def rc(studio: Studio, pieces: dict[str, Piece]) -> Iterator[TestClient]:
    with review_client(studio.root) as c:
        login(c)
        yield c


def status_of(studio: Studio, piece: Piece) -> tuple[str, list[tuple[str, ...]]]:
    with studio.catalog(readonly=True) as cat:
        found = cat.get_piece(piece.id)
        assert found is not None
        return found.status, [d.reasons for d in cat.decisions(piece.id)]


def test_without_a_token_the_review_page_is_403_and_says_how_to_enable_it(studio: Studio,
                                                                          pieces: dict[str, Piece]) -> None:
    with review_client(studio.root, token=None) as c:
        for method, path in (("GET", "/review"), ("GET", "/review/login"), ("POST", "/review/login"),
                             ("POST", f"/review/{pieces['draft'].slug}/decision"),
                             ("GET", f"/review/p/{pieces['draft'].slug}/thumb.jpg")):
            r = c.request(method, path, data={"token": "anything"})
            assert r.status_code == 403 and r.headers["content-type"].startswith("text/html"), (path, r.status_code)
            assert "DSTRTD_WEB_TOKEN" in r.text and "--token" in r.text, path
            assert COOKIE not in r.headers.get("set-cookie", "")


def test_a_wrong_token_sets_no_cookie_and_is_logged(studio: Studio, pieces: dict[str, Piece],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with review_client(studio.root) as c, caplog.at_level(logging.WARNING, "installation.web.routers.review"):
        for wrong in ("", "nope", TOKEN[:-1], TOKEN + "x", "é" * 8):
            r = c.post("/review/login", data={"token": wrong})
            assert r.status_code == 401 and "not the control token" in r.text, wrong
            assert "set-cookie" not in r.headers and not c.cookies
        assert c.get("/review").status_code == 403
        assert sum("failed review login" in m for m in caplog.messages) == 5


def test_the_right_token_sets_a_signed_cookie_with_the_safe_flags(studio: Studio, pieces: dict[str, Piece]) -> None:
    with review_client(studio.root) as c:
        r = c.post("/review/login", data={"token": f"  {TOKEN} ", "name": "Ana"})
        assert r.status_code == 303 and r.headers["location"] == "/review"
        cookie = r.headers["set-cookie"]
        flags = {f.strip().split("=")[0].lower(): f.strip() for f in cookie.split(";")[1:]}
        assert {"httponly", "secure", "path", "samesite", "max-age"} <= set(flags), cookie
        assert flags["samesite"].lower() == "samesite=strict" and flags["path"] == "Path=/review"
        assert flags["max-age"] == f"Max-Age={SESSION_S}"
        assert TOKEN not in cookie and TOKEN[:8] not in cookie
        value = c.cookies[COOKIE]
        assert check_session(TOKEN, value) is not None and check_session("another-token", value) is None
        page = c.get("/review")
        assert page.status_code == 200 and "Logged in as Ana." in page.text
        again = c.get("/review/login")  # logged in: straight on to the review page
        assert again.status_code == 303 and again.headers["location"] == "/review"
    with review_client(studio.root, base_url="http://localhost:8000") as c:  # plain http: no Secure flag
        r = c.post("/review/login", data={"token": TOKEN})
        assert "secure" not in r.headers["set-cookie"].lower()


def test_failed_logins_are_throttled(studio: Studio, pieces: dict[str, Piece]) -> None:
    with review_client(studio.root) as c:
        for _ in range(5):
            assert c.post("/review/login", data={"token": "guess"}).status_code == 401
        r = c.post("/review/login", data={"token": TOKEN})  # even the right one waits out the window
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "set-cookie" not in r.headers


def test_forged_forwarded_headers_cannot_lock_the_artist_out(studio: Studio, pieces: dict[str, Piece]) -> None:
    """Fifty wrong logins, each with a forged X-Forwarded-For: they all count against the one address they come from,
    and the artist, elsewhere, gets in."""
    app = create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN))
    with TestClient(app, base_url="https://testserver", follow_redirects=False, client=("203.0.113.9", 4711)) as c:
        answers = {c.post("/review/login", data={"token": "guess"},
                          headers={"x-forwarded-for": f"10.0.{i}.{i}"}).status_code for i in range(50)}
        assert answers == {401, 429}
    with TestClient(app, base_url="https://testserver", follow_redirects=False, client=("198.51.100.7", 4711)) as c:
        assert c.post("/review/login", data={"token": TOKEN}).status_code == 303


def test_a_right_token_gets_in_past_the_overall_cap(studio: Studio, pieces: dict[str, Piece]) -> None:
    app = create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN))
    for i in range(60):  # guesses from sixty real addresses: the overall cap is reached
        with TestClient(app, base_url="https://testserver", follow_redirects=False,
                        client=(f"203.0.113.{i}", 4711)) as c:
            c.post("/review/login", data={"token": "guess"})
    with TestClient(app, base_url="https://testserver", follow_redirects=False, client=("198.51.100.7", 4711)) as c:
        wrong = c.post("/review/login", data={"token": "guess"})
        assert wrong.status_code == 429 and int(wrong.headers["retry-after"]) > 0, "wrong tokens wait"
        assert c.post("/review/login", data={"token": TOKEN}).status_code == 303, "a right one never does"


def test_behind_a_trusted_proxy_each_visitor_is_throttled_alone(studio: Studio, pieces: dict[str, Piece]) -> None:
    with review_client(studio.root, client="10.0.0.1", trusted_proxies=("10.0.0.1",)) as c:
        for _ in range(5):
            assert c.post("/review/login", data={"token": "guess"},
                          headers={"x-forwarded-for": "6.6.6.6, 203.0.113.9"}).status_code == 401
        assert c.post("/review/login", data={"token": TOKEN},
                      headers={"x-forwarded-for": "1.1.1.1, 203.0.113.9"}).status_code == 429, "the same visitor"
        assert c.post("/review/login", data={"token": TOKEN},
                      headers={"x-forwarded-for": "198.51.100.7"}).status_code == 303, "another visitor"
    with review_client(studio.root, client="10.0.0.1") as c:  # not configured: the proxy is one client
        for i in range(5):
            c.post("/review/login", data={"token": "guess"}, headers={"x-forwarded-for": f"203.0.113.{i}"})
        assert c.post("/review/login", data={"token": TOKEN},
                      headers={"x-forwarded-for": "198.51.100.7"}).status_code == 429


def test_each_tab_lists_its_pieces_with_scores_and_the_latest_decision(rc: TestClient, studio: Studio,
                                                                       pieces: dict[str, Piece]) -> None:
    with studio.catalog() as cat:
        cat.decide(pieces["dropped"].id, "rejected", ["aesthetic 3.10 < 4.50", "near-duplicate of glacier"])
    expected = {"generated": {"draft"}, "accepted": {"reef", "glacier", "evil"}, "featured": {"reef2"},
                "rejected": {"dropped"}}
    for status, names in expected.items():
        r = rc.get("/review", params={"status": status})
        assert r.status_code == 200, status
        for name, piece in pieces.items():
            assert (f'id="piece-{piece.slug}"' in r.text) == (name in names), (status, name)
        assert 'aria-current="page"' in r.text and "noindex" in r.text
    accepted = rc.get("/review", params={"status": "accepted"}).text
    assert "<dt>aesthetic</dt><dd>6.84</dd>" in accepted and "<dt>aligner</dt><dd>0.31</dd>" in accepted
    assert accepted.index(pieces["evil"].slug) < accepted.index(pieces["glacier"].slug)  # newest first
    assert "<script>" not in accepted and "&lt;script&gt;" in accepted  # the hostile title is escaped
    rejected = rc.get("/review", params={"status": "rejected"}).text
    assert "<strong>rejected</strong>" in rejected
    assert "<li>aesthetic 3.10 &lt; 4.50</li><li>near-duplicate of glacier</li>" in rejected
    assert rc.get("/review").text.count('class="card"') == 1  # the default tab: waiting


def test_the_review_page_is_paged(studio: Studio, pieces: dict[str, Piece]) -> None:
    with TestClient(create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN, page_size=2)),
                    base_url="https://testserver", follow_redirects=False) as c:
        login(c)
        first = c.get("/review", params={"status": "accepted"}).text
        assert first.count('class="card"') == 2 and 'href="/review?status=accepted&amp;page=2"' in first
        second = c.get("/review", params={"status": "accepted", "page": 2}).text
        assert second.count('class="card"') == 1 and 'href="/review?status=accepted&amp;page=1"' in second


def test_bad_queries_are_4xx_pages(rc: TestClient) -> None:
    r = rc.get("/review", params={"status": "published"})
    assert r.status_code == 400 and "Unknown tab" in r.text and r.headers["content-type"].startswith("text/html")
    assert rc.get("/review", params={"page": "0"}).status_code == 400
    assert rc.get("/review", params={"page": "x"}).status_code == 400


@pytest.mark.parametrize(("decision", "label"), [("accepted", "Accept"), ("featured", "Feature"),
                                                 ("rejected", "Reject")])
def test_a_decision_needs_the_csrf_field(rc: TestClient, studio: Studio, pieces: dict[str, Piece], decision: str,
                                         label: str) -> None:
    draft = pieces["draft"]
    page = rc.get("/review").text
    assert f'<button name="decision" value="{decision}">{label}</button>' in page
    form = {"decision": decision, "status": "generated", "page": "1", "reason": "  lovely   colours "}
    for bad in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": csrf_token("another-token", rc.cookies[COOKIE])}):
        r = rc.post(f"/review/{draft.slug}/decision", data=form | bad)
        assert r.status_code == 403 and "stale" in r.text, bad
    assert status_of(studio, draft) == ("generated", [])
    r = rc.post(f"/review/{draft.slug}/decision", data=form | {"csrf": csrf(page)})
    assert r.status_code == 303
    assert r.headers["location"] == f"/review?status=generated&page=1&done={decision}&slug={draft.slug}"
    assert status_of(studio, draft) == (decision, [("by Ana via review page: lovely colours",)])
    back = rc.get(r.headers["location"])
    assert f'<p class="notice" role="status">{draft.slug}: {decision}.</p>' in back.text
    assert f'id="piece-{draft.slug}"' not in back.text  # it left the waiting tab


def test_a_decision_without_a_reason_and_bad_decisions(rc: TestClient, studio: Studio,
                                                       pieces: dict[str, Piece]) -> None:
    token = csrf(rc.get("/review").text)
    reef, draft = pieces["reef"], pieces["draft"]
    form = {"csrf": token, "status": "accepted", "page": "1"}
    r = rc.post(f"/review/{reef.slug}/decision", data=form | {"decision": "featured"})
    assert r.status_code == 303 and status_of(studio, reef) == ("featured", [("by Ana via review page",)])
    for data, status, message in (({"decision": "published"}, 422, "A decision is one of"),
                                  ({"decision": "generated"}, 422, "A decision is one of"),
                                  ({"decision": "accepted", "reason": "x" * 301}, 422, "at most 300")):
        r = rc.post(f"/review/{draft.slug}/decision", data=form | data)
        assert r.status_code == status and message in r.text and 'role="alert"' in r.text, data
    r = rc.post("/review/no-such-piece/decision", data=form | {"decision": "accepted"})
    assert r.status_code == 404 and "There is no piece" in r.text
    r = rc.post(f"/review/{draft.slug}/decision", data=form | {"decision": "accepted", "status": "nope"})
    assert r.status_code == 400
    assert status_of(studio, draft) == ("generated", [])
    r = rc.post(f"/review/{draft.slug}/decision", content=b'{"decision": "accepted"}',
                headers={"content-type": "application/json"})
    assert r.status_code == 415 and status_of(studio, draft) == ("generated", [])


def test_title_and_reflection_are_set_cleared_and_bounded(rc: TestClient, studio: Studio,
                                                          pieces: dict[str, Piece]) -> None:
    glacier = pieces["glacier"]
    form = {"csrf": csrf(rc.get("/review?status=accepted").text), "status": "accepted", "page": "1"}

    def stored() -> tuple[str, str]:
        with studio.catalog(readonly=True) as cat:
            p = cat.get_piece(glacier.id)
            assert p is not None
            return p.title, p.reflection

    r = rc.post(f"/review/{glacier.slug}/title", data=form | {"title": "  Blue   ice "})
    assert r.status_code == 303 and r.headers["location"].endswith(f"done=title&slug={glacier.slug}")
    r = rc.post(f"/review/{glacier.slug}/reflection", data=form | {"reflection": "It melts.\r\n\r\nFast."})
    assert r.status_code == 303 and stored() == ("Blue ice", "It melts.\n\nFast.")
    page = rc.get(r.headers["location"]).text
    assert "reflection saved" in page and 'value="Blue ice"' in page and ">It melts.\n\nFast.</textarea>" in page
    r = rc.post(f"/review/{glacier.slug}/title", data=form | {"title": "x" * 121})
    assert r.status_code == 422 and "a title is at most 120 characters" in r.text and 'value="' + "x" * 121 in r.text
    r = rc.post(f"/review/{glacier.slug}/reflection", data=form | {"reflection": "y" * 601})
    assert r.status_code == 422 and "a reflection is at most 600 characters" in r.text
    r = rc.post(f"/review/{glacier.slug}/reflection", data=form | {"reflection": "bell\x07"})
    assert r.status_code == 422 and "control characters" in r.text
    assert stored() == ("Blue ice", "It melts.\n\nFast.")
    assert rc.post(f"/review/{glacier.slug}/title", data={"title": "No CSRF"} | {**form, "csrf": ""}).status_code == 403
    for field, done in (("title", "title-cleared"), ("reflection", "reflection-cleared")):
        r = rc.post(f"/review/{glacier.slug}/{field}", data=form | {field: "  "})
        assert r.status_code == 303 and f"done={done}" in r.headers["location"]
    assert stored() == ("", "")
    assert rc.post("/review/nope/title", data=form | {"title": "x"}).status_code == 404


@pytest.mark.parametrize("kind", ["expired", "other-token", "tampered", "garbage", "never-opened"])
def test_an_expired_or_forged_cookie_is_refused(studio: Studio, pieces: dict[str, Piece], kind: str) -> None:
    draft = pieces["draft"]
    with review_client(studio.root) as c:
        login(c)
        good = c.cookies[COOKIE]
        c.cookies.clear()
        value = {"expired": make_session(TOKEN, "Ana", now=time.time() - SESSION_S - 1),
                 "other-token": make_session("another-token", "Ana"),
                 "tampered": good.replace(good.split(".")[0], str(int(good.split(".")[0]) + 10**6), 1),
                 "garbage": "x.y.z", "never-opened": make_session(TOKEN, "Ana")}[kind]
        assert c.get("/review", headers={"cookie": f"{COOKIE}={good}"}).status_code == 200  # the probe works
        sent = {"cookie": f"{COOKIE}={value}"}
        assert c.get("/review", headers=sent).status_code == 403
        assert c.get(f"/review/p/{draft.slug}/thumb.jpg", headers=sent).status_code == 403
        r = c.post(f"/review/{draft.slug}/decision", headers=sent, data={
            "csrf": csrf_token(TOKEN, value), "decision": "accepted", "status": "generated", "page": "1"})
        assert r.status_code == 403
    assert status_of(studio, draft) == ("generated", [])


def test_logout_clears_the_cookie(rc: TestClient) -> None:
    token = csrf(rc.get("/review").text)
    assert rc.post("/review/logout", data={"csrf": ""}).status_code == 403  # logout needs the CSRF field too
    r = rc.post("/review/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/review/login"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f'{COOKIE}=""') and "Max-Age=0" in cookie and "Path=/review" in cookie
    assert COOKIE not in rc.cookies and rc.get("/review").status_code == 403


def test_logout_ends_the_session_for_every_copy_of_the_cookie(rc: TestClient, studio: Studio) -> None:
    copied = rc.cookies[COOKIE]  # e.g. read off a lost phone, or by anyone who saw it once
    token = csrf(rc.get("/review").text)
    assert rc.post("/review/logout", data={"csrf": token}).status_code == 303
    with review_client(studio.root) as other:
        r = other.get("/review", headers={"cookie": f"{COOKIE}={copied}"})
        assert r.status_code == 403 and "log in" in r.text
        r = other.post("/review/logout", headers={"cookie": f"{COOKIE}={copied}"}, data={"csrf": token})
        assert r.status_code == 403


def test_sessions_survive_a_restart_of_the_web_and_the_store_holds_no_session_id(studio: Studio,
                                                                                 pieces: dict[str, Piece]) -> None:
    with review_client(studio.root) as first:
        login(first, name="Ana")
        cookie = first.cookies[COOKIE]
    store = studio.root / SESSIONS_FILE
    session = check_session(TOKEN, cookie)
    assert session is not None and session.id and session.id not in store.read_text()
    with review_client(studio.root) as restarted:  # a new app, as after `systemctl restart`
        page = restarted.get("/review", headers={"cookie": f"{COOKIE}={cookie}"})
        assert page.status_code == 200 and "Logged in as Ana." in page.text
    store.unlink()  # deleting the file logs everyone out
    with review_client(studio.root) as after:
        assert after.get("/review", headers={"cookie": f"{COOKIE}={cookie}"}).status_code == 403


def test_unpublished_thumbnails_only_for_a_session(rc: TestClient, studio: Studio, pieces: dict[str, Piece]) -> None:
    slug = pieces["draft"].slug
    r = rc.get(f"/review/p/{slug}/thumb.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert r.headers["cache-control"].startswith("private")
    assert rc.get(f"/p/{slug}/thumb.jpg").status_code == 404  # the public route still hides it
    assert rc.get("/review/p/nope/thumb.jpg").status_code == 404


def test_review_pages_have_their_own_csp_and_public_pages_keep_theirs(rc: TestClient, studio: Studio,
                                                                      pieces: dict[str, Piece]) -> None:
    assert "form-action 'none'" in PUBLIC_CSP
    for path in ("/", f"/p/{pieces['reef'].slug}", "/t/coral-reef", "/api/pieces", "/nowhere"):
        r = rc.get(path)
        assert r.headers["content-security-policy"] == PUBLIC_CSP, path
        assert "/review" not in r.text, f"{path} links to the review page"
    with review_client(studio.root) as anonymous:
        answers = [rc.get("/review"), rc.get("/review?status=bogus"), anonymous.get("/review/login"),
                   anonymous.get("/review")]
    assert [r.status_code for r in answers] == [200, 400, 200, 403]
    for r in answers:
        assert r.headers["content-security-policy"] == PUBLIC_CSP.replace("form-action 'none'", "form-action 'self'")
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"]
        assert r.headers["cache-control"] == "no-store" and "noindex" in r.headers["x-robots-tag"]
        assert '<meta name="robots" content="noindex, nofollow">' in r.text


def links_resolve_under_prefix(client: TestClient, page: str) -> list[tuple[str, str, str]]:
    """Every link, image, stylesheet and form of `page` stays under the sub-path; what can be fetched answers 200."""
    found = links(page)
    assert found and all(url.startswith(PREFIX + "/") for _, _, url in found), found
    for tag, _, url in found:
        if tag in ("a", "img", "link"):
            assert client.get(url).status_code == 200, url
    return found


@pytest.mark.parametrize("mode", ["strip", "pass", "pass+root-path"])
def test_under_a_sub_path(studio: Studio, pieces: dict[str, Piece], mode: str) -> None:
    proxy = Proxy(create_app(WebSettings(studio=studio.root, base_url=SUB_BASE, token=TOKEN)), mode)
    draft = pieces["draft"]
    with TestClient(proxy, base_url="https://museum.example", follow_redirects=False) as c:
        login_page = c.get(f"{PREFIX}/review/login").text
        assert ("form", "action", f"{PREFIX}/review/login") in links(login_page)
        r = c.post(f"{PREFIX}/review/login", data={"token": TOKEN})
        assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/review"
        assert f"Path={PREFIX}/review" in r.headers["set-cookie"]
        page = c.get(r.headers["location"])
        assert page.status_code == 200
        found = links_resolve_under_prefix(c, page.text)
        assert ("form", "action", f"{PREFIX}/review/{draft.slug}/decision") in found
        assert ("img", "src", f"{PREFIX}/review/p/{draft.slug}/thumb.jpg") in found
        r = c.post(f"{PREFIX}/review/{draft.slug}/decision",
                   data={"csrf": csrf(page.text), "decision": "rejected", "status": "generated", "page": "1"})
        assert r.status_code == 303 and r.headers["location"].startswith(f"{PREFIX}/review?status=generated")
        r = c.post(f"{PREFIX}/review/logout", data={"csrf": csrf(page.text)})
        assert r.headers["location"] == f"{PREFIX}/review/login" and f"Path={PREFIX}/review" in r.headers["set-cookie"]
    assert proxy.outside() == []
    assert status_of(studio, draft) == ("rejected", [("by the artist via review page",)])


def test_review_is_a_taken_first_segment(tmp_path: Path) -> None:
    with pytest.raises(WebSettingsError, match="starts like the site's own addresses"):
        create_app(WebSettings(studio=tmp_path, base_url="https://museum.example/review"))
