"""A reverse proxy in front of the web app at a sub-path, as nginx would be, and an HTML probe of a page's links.

The proxy is an ASGI wrapper, so it works under TestClient and under uvicorn (for the browser). Like nginx with
`location /dstrtd/ { ... }` it forwards only what is under the sub-path: a link that leaves it is answered 404 and
logged in `seen`, so a test sees every broken link, whichever client followed it.
"""

from __future__ import annotations

from html.parser import HTMLParser

from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/dstrtd"
SUB_BASE = "https://museum.example/dstrtd"
UPSTREAM = ("127.0.0.1", 8000)  # nginx sends `Host: $proxy_host`, the upstream's address, unless told otherwise

# How nginx and uvicorn may be set up; the app must give the same pages in each.
MODES = {
    "strip": "proxy_pass http://127.0.0.1:8000/;  (nginx drops /dstrtd)",
    "pass": "proxy_pass http://127.0.0.1:8000;  (nginx forwards /dstrtd/... as it is)",
    "strip+root-path": "nginx drops /dstrtd, uvicorn --root-path /dstrtd puts it back",
    "pass+root-path": "nginx forwards /dstrtd/..., uvicorn --root-path /dstrtd adds it once more",
}


class Proxy:
    """Forward requests under `prefix` to `app` the way `mode` (a key of MODES) says; refuse everything else."""

    def __init__(self, app: ASGIApp, mode: str, prefix: str = PREFIX) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        self.app, self.mode, self.prefix = app, mode, prefix
        self.seen: list[tuple[str, int]] = []  # (path as the visitor asked, status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self.prefix:  # nginx answers `location /dstrtd/` for /dstrtd with a redirect to /dstrtd/
            self.seen.append((path, 301))
            await RedirectResponse(self.prefix + "/", 301)(scope, receive, send)
            return
        if not path.startswith(self.prefix + "/"):
            self.seen.append((path, 404))
            await PlainTextResponse(f"{path} is outside {self.prefix}/: not this site", 404)(scope, receive, send)
            return
        raw: bytes = scope.get("raw_path") or path.encode()
        if self.mode.startswith("strip"):
            path, raw = path[len(self.prefix):], raw[len(self.prefix):]
        root = ""
        if self.mode.endswith("root-path"):  # what uvicorn does with --root-path (0.26 and later)
            root, path, raw = self.prefix, self.prefix + path, self.prefix.encode() + raw
        headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
        headers.append((b"host", f"{UPSTREAM[0]}:{UPSTREAM[1]}".encode()))
        forwarded = {**scope, "path": path, "raw_path": raw, "root_path": root, "headers": headers, "scheme": "http",
                     "server": UPSTREAM}
        asked = scope["path"]

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((asked, message["status"]))
            await send(message)

        await self.app(forwarded, receive, record)

    def outside(self) -> list[str]:
        """Paths a visitor asked for that were not under the sub-path."""
        return [path for path, status in self.seen if not (path == self.prefix or path.startswith(self.prefix + "/"))]


URL_META = ("og:url", "og:image")


def links(page: str) -> list[tuple[str, str, str]]:
    """(tag, what, url) for every href and src of a page and the URLs in its meta tags (og:url, og:image); `what` is
    the attribute, or the rel of a <link>, or the meta property. Parsed, so escaping is undone as a browser would."""
    found: list[tuple[str, str, str]] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            for name in ("href", "src", "srcset", "action", "poster", "data"):
                if a.get(name) is not None:
                    found.append((tag, a.get("rel") or name if tag == "link" else name, a[name] or ""))
            if tag == "meta" and (a.get("property") or a.get("name")) in URL_META:
                found.append((tag, a.get("property") or a.get("name") or "", a.get("content") or ""))

    Links().feed(page)
    return found
