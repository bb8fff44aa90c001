"""The site behind a reverse proxy at a sub-path (base URL https://museum.example/dstrtd): every link, image and
stylesheet of every page starts with /dstrtd and resolves through the proxy however it is set up; at the root of a
host nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app
from installation.web.settings import WebSettingsError

from .proxy import MODES, PREFIX, SUB_BASE, Proxy, links
from .support import BASE, TOKEN
from .test_security import SECRETS, probes


def proxied(root: Path, mode: str, base_url: str = SUB_BASE, **kw: object) -> tuple[TestClient, Proxy]:
    proxy = Proxy(create_app(WebSettings(studio=root, base_url=base_url, token=TOKEN, **kw)), mode)
    return TestClient(proxy, base_url="https://museum.example", follow_redirects=False), proxy


@pytest.fixture(params=list(MODES))
def behind(request: pytest.FixtureRequest, studio: Studio, pieces: dict[str, Piece]) -> Iterator[tuple[TestClient,
                                                                                                       Proxy]]:
    client, proxy = proxied(studio.root, request.param)
    with client:
        yield client, proxy


KINDS = {"a": "text/html", "img": "image/", "stylesheet": "text/css", "canonical": "text/html", "og:url": "text/html",
         "og:image": "image/"}


def check_links(client: TestClient, page: str, prefix: str, base: str) -> list[str]:
    """Assert every URL of `page` lies under the site (paths under `prefix`, absolute URLs under `base`) and answers
    200 with the right type when followed through `client`; return the paths followed."""
    followed = []
    found = links(page)
    assert found, "no links at all"
    for tag, what, url in found:
        if urlsplit(url).scheme:
            assert url.startswith(base + "/"), (tag, what, url)
            path = url.removeprefix(urlsplit(base)._replace(path="").geturl())
        else:
            path = url
        assert path.startswith(prefix + "/"), (tag, what, url)
        kind = KINDS[what if what in KINDS else tag]
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), (tag, what, url, r.status_code)
        followed.append(path)
    return followed


@pytest.mark.parametrize(("base_url", "root"), [
    ("https://museum.example/dstrtd", "/dstrtd"), ("https://museum.example/dstrtd/", "/dstrtd"),
    ("https://museum.example", ""), ("http://localhost:8000/", ""), ("https://x.example/a/b-2/c_d", "/a/b-2/c_d"),
    ("https://x.example/gal%C3%A9rie", "/gal%C3%A9rie"),
])
def test_the_sub_path_is_the_path_of_the_base_url(tmp_path: Path, base_url: str, root: str) -> None:
    settings = WebSettings(studio=tmp_path, base_url=base_url)
    assert settings.root_path == root and settings.href("/p/x") == root + "/p/x"


@pytest.mark.parametrize(("base_url", "message"), [
    ("https://museum.example/dstrtd?x=1", "query or a fragment"), ("https://museum.example/dstrtd#top", "fragment"),
    ("https://museum.example/a//b", "plain sub-path"), ("https://museum.example/a/../b", "plain sub-path"),
    ("https://museum.example/galérie", "plain sub-path"), ("https://museum.example/a<b", "plain sub-path"),
])
def test_a_base_url_that_cannot_be_a_sub_path_is_refused(tmp_path: Path, base_url: str, message: str) -> None:
    with pytest.raises(WebSettingsError, match=message):
        WebSettings(studio=tmp_path, base_url=base_url)


@pytest.mark.parametrize("path", ["/p", "/api/v1", "/static", "/t/x"])
def test_a_sub_path_that_clashes_with_the_sites_own_addresses_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(WebSettingsError, match="starts like the site's own addresses"):
        create_app(WebSettings(studio=tmp_path, base_url="https://museum.example" + path))
    create_app(WebSettings(studio=tmp_path, base_url="https://museum.example/pieces"))  # only whole segments clash


def test_every_link_starts_with_the_sub_path_and_resolves(behind: tuple[TestClient, Proxy],
                                                          pieces: dict[str, Piece]) -> None:
    client, proxy = behind
    reef, reef2 = pieces["reef"].slug, pieces["reef2"].slug
    must = {  # the page -> its status, and links it must have (the check is on all of them)
        f"{PREFIX}/": (200, {f"{PREFIX}/p/{reef}", f"{PREFIX}/p/{reef}/thumb.jpg", f"{PREFIX}/p/{pieces['evil'].slug}/"
                                                                                   "image.png"}),
        f"{PREFIX}/t/coral-reef": (200, {f"{PREFIX}/p/{reef2}", f"{PREFIX}/p/{reef2}/thumb.jpg"}),
        f"{PREFIX}/p/{reef}": (200, {f"{PREFIX}/p/{reef}/image.png", f"{PREFIX}/p/{reef}/loss.png",
                                     f"{PREFIX}/p/{reef2}", f"{PREFIX}/p/{reef2}/thumb.jpg", f"{PREFIX}/t/coral-reef",
                                     f"{PREFIX}/p/{reef}"}),  # canonical and og:url
        f"{PREFIX}/p/no-such-piece": (404, set()),
        f"{PREFIX}/p/{pieces['draft'].slug}": (404, set()),
        f"{PREFIX}/?page=abc": (400, set()),
        f"{PREFIX}/t/nowhere": (404, set()),
        f"{PREFIX}/nowhere/at/all": (404, set()),
    }
    for path, (status, expected) in must.items():
        r = client.get(path)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (path, r.status_code)
        followed = check_links(client, r.text, PREFIX, SUB_BASE)
        assert expected <= set(followed), (path, expected - set(followed))
        assert f"{PREFIX}/" in followed, f"{path}: no way home"
        assert any(p.startswith(f"{PREFIX}/static/style.css?v=") for p in followed), f"{path}: no stylesheet"
        assert "127.0.0.1" not in r.text and "testserver" not in r.text, "the upstream's address leaked into a page"
    assert proxy.outside() == [], "links that leave the sub-path"


def test_the_pages_are_the_same_however_the_proxy_forwards(studio: Studio, pieces: dict[str, Piece]) -> None:
    paths = [f"{PREFIX}/", f"{PREFIX}/t/coral-reef", f"{PREFIX}/p/{pieces['reef'].slug}", f"{PREFIX}/p/nope",
             f"{PREFIX}/api/pieces", f"{PREFIX}/api/themes/glacier"]
    seen: dict[str, list[bytes]] = {}
    for mode in MODES:
        client, _ = proxied(studio.root, mode)
        with client:
            seen[mode] = [client.get(p).content for p in paths]
    first = seen.pop("strip")
    for mode, contents in seen.items():
        assert contents == first, mode


def test_paging_links_stay_under_the_sub_path(studio: Studio, pieces: dict[str, Piece]) -> None:
    client, proxy = proxied(studio.root, "strip", page_size=1)
    with client:
        index = client.get(f"{PREFIX}/").text
        older = [u for t, _, u in links(index) if t == "a" and "page=" in u]
        assert older == [f"{PREFIX}/?page=2"]
        second = client.get(older[0]).text
        pager = {u for t, _, u in links(second) if t == "a" and ("page=" in u or u == f"{PREFIX}/")}
        assert pager == {f"{PREFIX}/", f"{PREFIX}/?page=3"}
        check_links(client, second, PREFIX, SUB_BASE)
        theme = client.get(f"{PREFIX}/t/coral-reef?page=2").text
        assert {u for t, _, u in links(theme) if t == "a" and "/t/" in u} == {f"{PREFIX}/t/coral-reef"}
        check_links(client, theme, PREFIX, SUB_BASE)
    assert proxy.outside() == []


def test_the_api_gives_urls_under_the_base_url(behind: tuple[TestClient, Proxy], pieces: dict[str, Piece]) -> None:
    client, _ = behind
    first = client.get(f"{PREFIX}/api/pieces", params={"limit": 3}).json()
    assert first["next"] == f"{SUB_BASE}/api/pieces?offset=3&limit=3"
    item = client.get(first["next"].removeprefix("https://museum.example")).json()["items"][0]
    assert item["url"] == f"{SUB_BASE}/p/{pieces['reef'].slug}"
    for key, kind in (("url", "text/html"), ("image", "image/png"), ("thumbnail", "image/jpeg")):
        r = client.get(item[key].removeprefix("https://museum.example"))
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), key
    detail = client.get(f"{PREFIX}/api/pieces/{pieces['reef'].slug}").json()
    assert detail["loss_curve"] == f"{SUB_BASE}/p/{pieces['reef'].slug}/loss.png"
    theme = client.get(f"{PREFIX}/api/themes/coral-reef").json()
    assert theme["url"] == f"{SUB_BASE}/t/coral-reef"
    assert client.get(theme["url"].removeprefix("https://museum.example")).status_code == 200
    r = client.get(f"{PREFIX}/api/pieces/no-such-piece")  # the API's errors stay JSON under the sub-path
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    schema = client.get(f"{PREFIX}/api/openapi.json").json()
    assert schema["servers"] == [{"url": PREFIX}] and "/api/pieces" in schema["paths"]


def test_redirects_stay_under_the_sub_path(behind: tuple[TestClient, Proxy], pieces: dict[str, Piece]) -> None:
    client, proxy = behind
    slug = pieces["reef"].slug
    for asked, location in ((f"{PREFIX}/p/{slug}/", f"{PREFIX}/p/{slug}"),
                            (f"{PREFIX}/t/coral-reef/?page=1", f"{PREFIX}/t/coral-reef?page=1"),
                            (f"{PREFIX}/api/pieces/", f"{PREFIX}/api/pieces")):
        r = client.get(asked)
        assert r.status_code == 307 and r.headers["location"] == location, (asked, r.status_code, r.headers)
        assert client.get(location).status_code == 200
    assert client.get(f"{PREFIX}/p/{slug}/nothing/").status_code == 404  # no route there: no redirect either
    assert proxy.outside() == []


def test_requests_are_answered_with_or_without_the_sub_path(studio: Studio, pieces: dict[str, Piece]) -> None:
    slug = pieces["reef"].slug
    with TestClient(create_app(WebSettings(studio=studio.root, base_url=SUB_BASE)), follow_redirects=False) as c:
        for path in (f"/p/{slug}", f"{PREFIX}/p/{slug}", "/", f"{PREFIX}/", PREFIX, f"/p/{slug}/image.png",
                     f"{PREFIX}/p/{slug}/thumb.jpg", "/api/pieces", f"{PREFIX}/api/pieces"):
            assert c.get(path).status_code == 200, path
        assert c.get(f"/p/{slug}").text == c.get(f"{PREFIX}/p/{slug}").text
        for path in (f"{PREFIX}x/p/{slug}", f"{PREFIX}{PREFIX}/p/{slug}", f"/x{PREFIX}/p/{slug}"):
            assert c.get(path).status_code == 404, path
        for path in probes(slug):
            for asked in (path, PREFIX + path):
                r = c.get(asked)
                assert 400 <= r.status_code < 500, (asked, r.status_code)
                assert not any(s in r.content for s in SECRETS), asked


def test_at_the_root_of_a_host_links_are_root_paths(client: TestClient, pieces: dict[str, Piece]) -> None:
    slug = pieces["reef"].slug
    for path in ("/", "/t/coral-reef", f"/p/{slug}", "/p/nope"):
        page = client.get(path).text
        followed = check_links(client, page, "", BASE)
        assert "/" in followed and not any(p.startswith(PREFIX) for p in followed)
    r = client.get(f"/p/{slug}/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"/p/{slug}"


def test_the_command_takes_the_sub_path_from_the_base_url(studio: Studio, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    import uvicorn

    from installation.cli import main

    served: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(kw, app=app))
    assert main(["web", "--studio", str(studio.root), "--base-url", SUB_BASE + "/"]) == 0
    assert served["app"].state.settings.root_path == PREFIX
    served.clear()
    assert main(["web", "--studio", str(studio.root), "--base-url", "https://museum.example/api"]) == 2
    err = capsys.readouterr().err
    assert "starts like the site's own addresses" in err and err.count("\n") == 1 and "app" not in served
