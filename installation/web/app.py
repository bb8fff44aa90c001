"""The web app: `create_app(settings)` builds it; the studio's catalog is opened in `lifespan`.

Public pages and the JSON API are read-only; the control endpoints need the token. Bad requests get a 4xx with a
message that says what was wrong; request bodies are capped before any route sees them.

Behind a reverse proxy at a sub-path: the path of `settings.base_url` ("https://museum.example/dstrtd" -> "/dstrtd")
is the site's prefix. Every link, image and stylesheet on the pages is a path that starts with it ("/dstrtd/p/<slug>"),
and requests are answered with or without it, so the proxy may strip the prefix (`proxy_pass http://127.0.0.1:8000/;`)
or pass the whole path on (`proxy_pass http://127.0.0.1:8000;`), and a server started with an ASGI root_path works
too. Absolute URLs (og:url, canonical, the API's) are built from the base URL itself.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, AnyStr
from urllib.parse import quote, unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from curation import public
from curation.catalog import CatalogError
from installation.web.deps import CatalogSource
from installation.web.proxies import ForwardedFor
from installation.web.render import error_page
from installation.web.routers import control, media, pages, pieces, review, review_studio, themes
from installation.web.settings import WebSettings, WebSettingsError

log = logging.getLogger(__name__)

# why: pages load nothing from elsewhere and run no script; a bug that lets text through unescaped still runs nothing
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; "
                                 b"form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413 before any route reads it (Content-Length or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = JSONResponse({"detail": f"request body too large: the limit is {self.max_bytes} bytes"}, 413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await JSONResponse({"detail": "malformed Content-Length header"}, 400)(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                await too_large(scope, receive, send)
                return
        # Read the (small) body here, so a chunked upload without Content-Length is held to the same limit.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _strip(path: AnyStr, prefix: AnyStr) -> AnyStr | None:
    """`path` without `prefix` when it starts with it as whole segments ("/dstrtd/p/x" -> "/p/x", "/dstrtd" -> "/";
    "/dstrtdx" is no match), else None. `path` and `prefix` start with a slash."""
    if prefix and path.startswith(prefix):
        rest = path[len(prefix):]
        if not rest:
            return path[:1]
        if rest[:1] == path[:1]:
            return rest
    return None


class SubPath:
    """Serve the site under `prefix` (a URL path such as "/dstrtd", percent-escapes allowed) whether the request
    arrives with the prefix, without it, or after a server's own root_path. Routes then see the path inside the site
    ("/p/x") and the scope follows the ASGI convention: `root_path` is the prefix and `path` the whole path."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = unquote(prefix)  # why: scope["path"] is decoded; scope["raw_path"] is not
        self.raw_prefix = prefix.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.prefix:
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        given = scope.get("root_path", "")  # e.g. uvicorn --root-path; ours replaces it
        path = scope["path"]
        path = _strip(path, given) or path
        scope["path"] = self.prefix + (_strip(path, self.prefix) or path)
        if isinstance(scope.get("raw_path"), bytes):
            raw = scope["raw_path"]
            raw = _strip(raw, given.encode("latin-1")) or raw
            scope["raw_path"] = self.raw_prefix + (_strip(raw, self.raw_prefix) or raw)
        scope["root_path"] = self.prefix
        await self.app(scope, receive, send)


def _route_path(request: Request) -> str:
    """The path inside the site, without the sub-path it is published under."""
    path: str = request.scope["path"]
    return _strip(path, request.scope.get("root_path", "")) or path


def _root(request: Request) -> str:
    settings: WebSettings = request.app.state.settings
    return settings.root_path


def _is_api(request: Request) -> bool:
    path = _route_path(request)
    return path == "/api" or path.startswith("/api/")


def _slash_redirect(request: Request) -> Response | None:
    """A redirect from "/p/<slug>/" to "/p/<slug>" when that is a route. Starlette's own redirect names the host and
    path the app was reached by, which behind a proxy are the proxy's upstream; a path-absolute Location with the
    sub-path is right for the visitor in every setup."""
    path = _route_path(request)
    if path == "/" or not path.endswith("/"):
        return None
    target = path.rstrip("/")
    probe = {**request.scope, "path": target, "root_path": ""}
    if not any(route.matches(probe)[0] != Match.NONE for route in request.app.router.routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    location = _root(request) + quote(target, safe="/:@!$&'()*+,;=-._~") + (f"?{query}" if query else "")
    return RedirectResponse(location, 307)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404 and (redirect := _slash_redirect(request)) is not None:
        return redirect
    if _is_api(request) or exc.status_code in (401, 403, 405, 413):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return HTMLResponse(error_page(exc.status_code, str(exc.detail), root=_root(request)), exc.status_code,
                        headers=exc.headers)


def _json_safe(value: Any) -> Any:
    """`value` with every string encodable as UTF-8 (a lone surrogate from a JSON body written as its escape)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    if _is_api(request):
        # why not FastAPI's own answer: it echoes the input, and an input JSON cannot hold (1e999 read as inf, a lone
        # surrogate) made the answer itself fail with a 500; where and what is enough to fix a request
        errors = [{"type": e.get("type"), "loc": _json_safe(list(e.get("loc", ()))), "msg": _json_safe(e.get("msg"))}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, 422)
    return HTMLResponse(error_page(400, "Part of this address is malformed.", root=_root(request)), 400)


async def _catalog_unavailable(request: Request, exc: Exception) -> Response:
    # why: a catalog that vanished, is locked past the timeout or cannot be read is the server's trouble (503), and
    # its path and SQLite's words are for the log, not for visitors
    log.error("catalog unavailable for %s %s: %s", request.method, request.url.path, exc)
    message = "The catalog cannot be read just now; try again in a moment."
    if _is_api(request):
        return JSONResponse({"detail": message}, 503, headers={"Retry-After": "30"})
    return HTMLResponse(error_page(503, message, root=_root(request)), 503, headers={"Retry-After": "30"})


def create_app(settings: WebSettings) -> FastAPI:
    """The public pages, the JSON API and the control endpoints of the studio `settings.studio`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, CatalogSource]]:
        catalogs = CatalogSource.open(settings.studio, settings.catalog)
        log.info("serving studio %s as %s (control %s)%s", catalogs.studio.root, settings.base_url,
                 "enabled" if settings.control_enabled else "disabled: no token",
                 f"; under the sub-path {settings.root_path}: requests are answered with or without it"
                 if settings.root_path else "")
        try:
            yield {"catalogs": catalogs}
        finally:
            catalogs.close()

    app = FastAPI(
        title="DSTRTD",
        summary="The public pages behind the QR codes and a read-only JSON API of the published pieces.",
        lifespan=lifespan,
        docs_url=None,  # why: the interactive docs load scripts from a CDN; the schema stays at /api/openapi.json
        redoc_url=None,
        openapi_url="/api/openapi.json",
        redirect_slashes=False,  # why: `_slash_redirect` does it with a Location that is right behind a proxy
    )
    app.state.settings = settings
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(CatalogError, _catalog_unavailable)
    app.add_exception_handler(sqlite3.Error, _catalog_unavailable)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(SubPath, prefix=settings.root_path)
    app.add_middleware(ForwardedFor, proxies=settings.proxies)  # outermost: every part sees the visitor's address
    # a piece's page and files live under the prefix its QR codes encode, read now from its one home; review: the
    # artist's pages, which send their own Content-Security-Policy (forms post to the site itself)
    routers = [(pages.piece_router, public.PIECE_ROUTE), (media.piece_router, public.PIECE_ROUTE),
               *((module.router, "") for module in (pages, media, pieces, themes, control, review_studio, review))]
    for router, prefix in routers:
        app.include_router(router, prefix=prefix)
    _check_root_path(settings.root_path, [app.openapi_url or ""] + [
        prefix + route.path for router, prefix in routers for route in router.routes if isinstance(route, Route)])
    return app


def _check_root_path(root_path: str, paths: list[str]) -> None:
    """Refuse a sub-path whose first segment is one of the site's own ("/p", "/api"): "/p/<slug>" could then be a
    piece's page or the page "/<slug>" under the sub-path, and requests are answered with or without it."""
    if not root_path:
        return
    first = unquote(root_path.split("/")[1])
    taken = {path.split("/")[1] for path in paths if path.startswith("/")}
    if first in taken:
        raise WebSettingsError(f"base_url's path {root_path!r} starts like the site's own addresses "
                               f"({', '.join(sorted('/' + t for t in taken if t))}); publish it under another "
                               f"sub-path, such as /dstrtd")
