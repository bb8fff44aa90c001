"""The web app: `create_app(settings)` builds it; the studio's catalog is opened in `lifespan`.

Public pages and the JSON API are read-only; the control endpoints need the token. Bad requests get a 4xx with a
message that says what was wrong; request bodies are capped before any route sees them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from curation.catalog import CatalogError
from installation.web.deps import CatalogSource
from installation.web.render import error_page
from installation.web.routers import control, media, pages, pieces, themes
from installation.web.settings import WebSettings

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


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if _is_api(request) or exc.status_code in (401, 403, 405, 413):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return HTMLResponse(error_page(exc.status_code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    if _is_api(request):
        return await request_validation_exception_handler(request, exc)
    return HTMLResponse(error_page(400, "Part of this address is malformed."), 400)


async def _catalog_unavailable(request: Request, exc: Exception) -> Response:
    # why: a catalog that vanished, is locked past the timeout or cannot be read is the server's trouble (503), and
    # its path and SQLite's words are for the log, not for visitors
    log.error("catalog unavailable for %s %s: %s", request.method, request.url.path, exc)
    message = "The catalog cannot be read just now; try again in a moment."
    if _is_api(request):
        return JSONResponse({"detail": message}, 503, headers={"Retry-After": "30"})
    return HTMLResponse(error_page(503, message), 503, headers={"Retry-After": "30"})


def create_app(settings: WebSettings) -> FastAPI:
    """The public pages, the JSON API and the control endpoints of the studio `settings.studio`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, CatalogSource]]:
        catalogs = CatalogSource.open(settings.studio)
        log.info("serving studio %s as %s (control %s)", catalogs.studio.root, settings.base_url,
                 "enabled" if settings.control_enabled else "disabled: no token")
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
    )
    app.state.settings = settings
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(CatalogError, _catalog_unavailable)
    app.add_exception_handler(sqlite3.Error, _catalog_unavailable)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    for module in (pages, media, pieces, themes, control):
        app.include_router(module.router)
    return app
