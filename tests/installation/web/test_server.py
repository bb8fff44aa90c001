"""Through a real uvicorn: raw paths no client library would send, and many visitors at once (each request opens its
own catalog connection on its own thread)."""

from __future__ import annotations

import http.client
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit
from urllib.request import urlopen

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app

from .support import BASE, serve


def raw_get(base: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Send `path` exactly as written (http.client neither normalises dot segments nor re-encodes)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_raw_traversal_and_many_visitors(studio: Studio, pieces: dict[str, Piece]) -> None:
    slug = pieces["reef"].slug
    with serve(create_app(WebSettings(studio=studio.root, base_url=BASE))) as base:
        for path in ("/static/../catalog.sqlite", "/p/../catalog.sqlite", f"/p/{slug}/../../catalog.sqlite",
                     "/p/../../../../etc/passwd", "/../themes.toml", "/p/./../pieces", f"/p/{slug}/./image.png/..",
                     "/p/%2e%2e/%2e%2e/catalog.sqlite", "/t/../../catalog.sqlite"):
            status, body = raw_get(base, path)
            assert 400 <= status < 500, (path, status)
            assert b"SQLite format" not in body and b"root:" not in body and b"[[theme]]" not in body, path

        status, body = raw_get(base, f"/p/{slug}", "HEAD")
        assert status == 200 and body == b""

        urls = [f"{base}/p/{pieces[k].slug}" for k in ("reef", "reef2", "glacier")] + [f"{base}/", f"{base}/api/pieces"]
        urls += [f"{base}/p/{slug}/thumb.jpg", f"{base}/p/{slug}/image.png"]

        def fetch(url: str) -> int:
            with urlopen(url, timeout=20) as r:
                r.read()
                return r.status

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(fetch, urls * 12)) == {200}
