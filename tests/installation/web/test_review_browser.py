"""Headless Chromium shows the review page at phone width: the waiting piece's image fills the column at the top, its
facts, decision buttons and forms follow, and nothing is wider than the phone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app
from installation.web.review_session import COOKIE

from .support import BASE, TOKEN, recorded_session, serve
from .test_browser import PHONE, bright_rows, colour_box, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's `chromium` on PATH")]

DRAFT = (200, 30, 30)  # the waiting piece's colour (conftest)
SHOTS = Path(__file__).parent / "screenshots"  # kept only when DSTRTD_KEEP_SHOTS is set


class WithSession:
    """Send a valid session cookie with every request: headless `--screenshot` cannot fill in the login form."""

    def __init__(self, app: ASGIApp, cookie: str) -> None:
        self.app, self.cookie = app, f"{COOKIE}={cookie}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [*scope["headers"], (b"cookie", self.cookie)]}
        await self.app(scope, receive, send)


@pytest.fixture()
def site(studio: Studio, pieces: dict[str, Piece]):
    with studio.catalog() as cat:
        cat.add_score(pieces["draft"].id, "aesthetic", 5.21)
        cat.add_score(pieces["draft"].id, "alignment", 0.287)
    app = create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN))
    with serve(WithSession(app, recorded_session(studio.root))) as url:
        yield url


def _keep(shot: Path, name: str) -> None:
    import os

    if os.environ.get("DSTRTD_KEEP_SHOTS"):
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(shot, SHOTS / name)


def test_review_page_on_a_phone(site: str, tmp_path: Path) -> None:
    shot = screenshot(f"{site}/review", PHONE, tmp_path / "review-phone.png")
    _keep(tmp_path / "review-phone.png", "review-phone.png")
    box = colour_box(shot, DRAFT)
    assert box is not None, "the waiting piece's image is not on the first screen"
    left, top, right, bottom = box
    assert left >= 10 and right <= PHONE[0] - 10 and right - left >= PHONE[0] - 40, f"image not in the column: {box}"
    assert abs((bottom - top) - (right - left)) <= 3, f"the square image is distorted: {box}"
    assert top < 300, f"the image should come right after the tabs: {box}"
    assert bright_rows(shot, bottom + 1, PHONE[1]) > 20, "no title or facts under the image"
    tall = screenshot(f"{site}/review", (PHONE[0], 1500), tmp_path / "review-tall.png")
    _keep(tmp_path / "review-tall.png", "review-tall.png")
    assert colour_box(tall, (143, 216, 195)) is not None, "the current tab (accent colour) is not drawn"
    assert bright_rows(tall, bottom + 1, tall.height) > 60, "the buttons and forms under the image are missing"


def test_login_page_on_a_phone(studio: Studio, pieces: dict[str, Piece], tmp_path: Path) -> None:
    with serve(create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN))) as url:
        shot = screenshot(f"{url}/review/login", PHONE, tmp_path / "login.png")
        without = screenshot(f"{url}/review", PHONE, tmp_path / "refused.png")
    _keep(tmp_path / "login.png", "review-login.png")
    assert bright_rows(shot, 60, PHONE[1]) > 40, "the login form is not drawn"
    assert colour_box(without, DRAFT) is None, "the review page showed a piece without a session"
