"""Helpers of the web tests: test images, a client factory, an HTML probe, a real uvicorn server in a thread."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from installation.web import WebSettings, create_app

TOKEN = "test-token-0123456789abcdef"
BASE = "https://dstrtd.example"
MAGENTA = (232, 0, 190)  # the artwork the browser test looks for: no colour of the page itself is near it

SETTINGS = {
    "prompts": ["a coral reef:1", "a coral reef, digital distortion, glitch art:0.6", "text, watermark:-0.5"],
    "steps": 250, "seed": 42, "size": [64, 64], "vqgan": "/home/artist/models/vqgan_imagenet_f16_16384.ckpt",
    "perceptors": ["ViT-B-32:openai", "ViT-B-16:openai"], "optimizer": "Adam", "lr": 0.1, "cutn": 32,
    "seconds": 95.4, "device": "cuda",
}


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def loss_png() -> bytes:
    im = Image.new("RGB", (320, 160), "white")
    ImageDraw.Draw(im).line([(10 + 3 * i, 20 + 120 * 0.97**i) for i in range(100)], fill=(30, 60, 200), width=3)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def make_client(root: Path, token: str | None = TOKEN, **kw: object) -> TestClient:
    """A TestClient on a new app; use it as a context manager so the lifespan opens the catalog."""
    return TestClient(create_app(WebSettings(studio=root, base_url=BASE, token=token, **kw)))


def recorded_session(root: Path, name: str = "Ana") -> str:
    """A session cookie's value for `name`, recorded in the studio as a login records it (for clients that cannot
    fill in the login form, such as headless `--screenshot`)."""
    from installation.web.review_session import check_session, make_session
    from installation.web.session_store import SESSIONS_FILE, SessionStore

    value = make_session(TOKEN, name)
    session = check_session(TOKEN, value)
    assert session is not None
    SessionStore(root / SESSIONS_FILE).add(session.id, name, session.expires, time.time())
    return value


def meta_tags(page: str) -> dict[str, str]:
    """<meta property|name=... content=...> of a page (parsed, so escaping is undone as a browser would)."""
    found: dict[str, str] = {}

    class Meta(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            key = a.get("property") or a.get("name")
            if tag == "meta" and key:
                found[key] = a.get("content") or ""

    Meta().feed(page)
    return found


@contextlib.contextmanager
def serve(app: FastAPI, timeout: float = 10.0) -> Iterator[str]:
    """Yield the base URL of `app` served by uvicorn on 127.0.0.1:<free port>; stop the server on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
