"""Headless Chromium shows the Studio tab at phone width: the running job's progress bar (a <progress> in the accent
colour, about as full as the job is far), the queue form, the waiting, failed and made jobs, nothing wider than the
phone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app

from .support import BASE, TOKEN, recorded_session, serve
from .test_browser import PHONE, bright_rows, colour_box, screenshot
from .test_review_browser import WithSession, _keep

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's `chromium` on PATH")]

ACCENT = (143, 216, 195)  # --accent: the current tab and the filled part of a progress bar
DRAFT = (200, 30, 30)  # the draft piece's colour (conftest): its thumbnail under "Made lately"


@pytest.fixture()
def site(studio: Studio, pieces: dict[str, Piece]):
    with studio.catalog() as cat:
        running = cat.enqueue("a coral reef:1 | a coral reef, digital distortion, glitch art:0.6 | text, "
                              "watermark:-0.5", theme="coral-reef")
        cat.claim_job("gpu0:4242")
        cat.set_job_progress(running, 180, 300, 0.81234)
        for error in ("CUDA out of memory at 64x64, cutn 1, after 4 smaller retries: use a smaller --size or --cutn",
                      None):
            job = cat.enqueue("a wetland at dawn:1", theme="wetland")
            cat.claim_job("gpu0:4242")
            if error:
                cat.fail_job(job, error, requeue=False)
            else:
                cat.finish_job(job, pieces["draft"].id)
        cat.enqueue("a glacier under a blue sky:1 | text, watermark:-0.5", theme="glacier", priority=2)
        cat.enqueue("old-growth forest, moss:1", theme="old-growth-forest")
    app = create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN))
    with serve(WithSession(app, recorded_session(studio.root))) as url:
        yield url


def test_studio_tab_on_a_phone(site: str, tmp_path: Path) -> None:
    shot = screenshot(f"{site}/review/studio", PHONE, tmp_path / "studio-phone.png")
    _keep(tmp_path / "studio-phone.png", "review-studio-phone.png")
    tall = screenshot(f"{site}/review/studio", (PHONE[0], 1800), tmp_path / "studio-tall.png")
    _keep(tmp_path / "studio-tall.png", "review-studio-tall.png")
    assert shot.size == PHONE
    below_tabs = 230  # the header, the heading and two rows of tabs (the current one is accent-coloured too)
    bar = colour_box(shot.crop((0, below_tabs, PHONE[0], PHONE[1])), ACCENT)
    assert bar is not None, "no progress bar on the first screen"
    left, top, right, bottom = bar
    column = PHONE[0] - 2 * 16  # 1rem of margin each side
    assert 2 <= bottom - top <= 30, f"the bar is not a bar: {bar}"
    assert 0.5 * column <= right - left <= 0.7 * column, f"180/300 should fill ~60 % of the column: {bar}"
    assert left >= 10 and right <= PHONE[0] - 10
    assert bright_rows(shot, below_tabs + bottom + 1, PHONE[1]) > 40, "no text under the bar"
    thumb = colour_box(tall, DRAFT)
    assert thumb is not None, "the made piece's thumbnail is missing"
    assert 50 <= thumb[2] - thumb[0] <= 80 and abs((thumb[2] - thumb[0]) - (thumb[3] - thumb[1])) <= 3, thumb


def test_a_waiting_job_is_moved_and_cancelled_with_a_tap(studio: Studio, pieces: dict[str, Piece],
                                                         tmp_path: Path) -> None:
    """In Chromium at phone width: each waiting job's buttons fit the column and are big enough for a thumb; pressing
    them posts the form (CSRF field, form-action 'self') and comes back to the tab with the job moved or cancelled."""
    from .cdp import Browser

    with studio.catalog() as cat:
        first = cat.enqueue("a glacier under a blue sky:1", theme="glacier", priority=2)
        second = cat.enqueue("old-growth forest, moss:1", theme="old-growth-forest")
    app = create_app(WebSettings(studio=studio.root, base_url=BASE, token=TOKEN))
    with serve(WithSession(app, recorded_session(studio.root))) as url:
        browser = Browser(tmp_path / "profile", PHONE)
        try:
            browser.open(f"{url}/review/studio")
            boxes = browser.evaluate("[...document.querySelectorAll('form.job-actions button')].map(b => { "
                                     "const r = b.getBoundingClientRect(); return [r.left, r.right, r.height]; })")
            assert len(boxes) == 6, boxes
            assert all(left >= 0 and right <= PHONE[0] and height >= 40 for left, right, height in boxes), boxes
            order = "[...document.querySelectorAll('li.job.queued')].map(li => li.id)"
            assert browser.evaluate(order) == [f"job-{first}", f"job-{second}"]

            browser.click(f"#job-{second} button[value=first]")
            assert browser.evaluate("location.pathname + location.search") == \
                f"/review/studio?job={second}&done=first"
            assert f"Job #{second} moved to the front of the queue." in browser.evaluate("document.body.innerText")
            assert browser.evaluate(order) == [f"job-{second}", f"job-{first}"]

            browser.click(f"#job-{first} button[value=cancel]")
            assert f"Job #{first} cancelled." in browser.evaluate("document.body.innerText")
            assert browser.evaluate(order) == [f"job-{second}"]
        finally:
            browser.close()
    with studio.catalog(readonly=True) as cat:
        assert cat.get_job(first).status == "failed" and cat.get_job(first).error == "cancelled: by Ana via review page"
        assert cat.get_job(second).priority == 3 and cat.get_job(second).status == "queued"
