"""The review pages' Studio tab (/review/studio): the worker's running, waiting, failed and done jobs with their
progress, and a form that queues pieces of a theme; behind the same session, CSRF field and CSP as the rest."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app
from installation.web.review_session import COOKIE, csrf_token
from installation.web.routers.review_studio import duration

from .proxy import PREFIX, SUB_BASE, Proxy, links
from .support import TOKEN
from .test_review import PUBLIC_CSP, csrf, links_resolve_under_prefix, login, review_client

REVIEW_CSP = PUBLIC_CSP.replace("form-action 'none'", "form-action 'self'")


@pytest.fixture()
def jobs(studio: Studio, pieces: dict[str, Piece]) -> dict[str, int]:
    """One job of each kind: running with progress, running without, two waiting, two failed, two done."""
    with studio.catalog() as cat:
        ids = {"running": cat.enqueue("a coral reef:1", theme="coral-reef", priority=1),
               "starting": cat.enqueue("a glacier:1", theme="glacier", priority=1)}
        cat.claim_job("gpu0:101")
        cat.claim_job("gpu1:102")
        cat.set_job_progress(ids["running"], 120, 300, 0.81234)
        for name in ("failed", "failed2", "done", "done2"):
            ids[name] = cat.enqueue(f"{name} prompt:1", theme="wetland", priority=5)
            assert cat.claim_job("gpu0:101").id == ids[name]
        cat.set_job_progress(ids["failed"], 40, 300, 2.5)
        cat.fail_job(ids["failed"], "CUDA out of memory at 64x64, cutn 1: <use a smaller --size>", requeue=False)
        cat.fail_job(ids["failed2"], "non-finite loss with seed 3", requeue=False)
        cat.finish_job(ids["done"], pieces["draft"].id)
        cat.finish_job(ids["done2"], pieces["reef"].id)
        ids["low"] = cat.enqueue("a low one:1", theme="coral-reef", priority=-1)
        ids["high"] = cat.enqueue("<b>a high one</b>:1", theme="glacier", priority=3)
    return ids


@pytest.fixture()
def rc(studio: Studio, pieces: dict[str, Piece], jobs: dict[str, int]) -> Iterator[TestClient]:
    with review_client(studio.root) as c:
        login(c)
        yield c


def section(page: str, heading: str) -> str:
    """The HTML between the <h2> starting with `heading` and the next <h2> (or the end of the section)."""
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:end if end >= 0 else len(page)]


def job_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="job-(\d+)"', html)]


def queued_jobs(studio: Studio) -> list[tuple[str, str | None, int]]:
    with studio.catalog(readonly=True) as cat:
        return [(j.prompt, j.theme, j.priority) for j in cat.list_jobs("queued")]


def test_the_studio_tab_needs_a_session(studio: Studio, pieces: dict[str, Piece], jobs: dict[str, int]) -> None:
    with review_client(studio.root) as anonymous:
        for method, path in (("GET", "/review/studio"), ("POST", "/review/studio/queue")):
            r = anonymous.request(method, path, data={"theme": "glacier", "count": "2"})
            assert r.status_code == 403 and "needs a review session" in r.text, path
            assert r.headers["content-type"].startswith("text/html") and "gpu0:101" not in r.text
            assert r.headers["content-security-policy"] == REVIEW_CSP
    with review_client(studio.root, token=None) as c:
        assert c.get("/review/studio").status_code == 403
    assert len(queued_jobs(studio)) == 2


def test_the_studio_tab_lists_running_waiting_failed_and_done_jobs(rc: TestClient, jobs: dict[str, int],
                                                                   pieces: dict[str, Piece]) -> None:
    r = rc.get("/review/studio")
    assert r.status_code == 200 and r.headers["content-security-policy"] == REVIEW_CSP
    assert r.headers["cache-control"] == "no-store" and "noindex" in r.text
    page = r.text
    running = section(page, "Running")
    assert job_ids(running) == [jobs["running"], jobs["starting"]]
    assert (f'<progress value="120" max="300" aria-label="job {jobs["running"]}: step 120 of 300">40 %</progress>'
            in running)
    assert "step 120/300 · loss 0.8123 · 40 %" in running
    assert re.search(r"on gpu0:101 · running \d s · last step \d s ago · attempt 1", running), running
    assert f'<progress aria-label="job {jobs["starting"]}: starting">' in running and "on gpu1:102" in running
    waiting = section(page, "Waiting")
    assert job_ids(waiting) == [jobs["high"], jobs["low"]]  # the order the worker takes them
    assert "priority 3" in waiting and "priority -1" in waiting and "&lt;b&gt;a high one&lt;/b&gt;:1" in waiting
    failed = section(page, "Failed lately")
    assert job_ids(failed) == [jobs["failed2"], jobs["failed"]]  # newest first
    assert "CUDA out of memory at 64x64, cutn 1: &lt;use a smaller --size&gt;" in failed and "at step 40/300" in failed
    assert "non-finite loss with seed 3" in failed
    done = section(page, "Made lately")
    assert job_ids(done) == [jobs["done2"], jobs["done"]]
    for name, status in (("draft", "generated"), ("reef", "accepted")):
        slug = pieces[name].slug
        assert f'href="/review?status={status}#piece-{slug}"' in done and f'src="/review/p/{slug}/thumb.jpg"' in done
        card = rc.get(f"/review?status={status}").text
        assert f'id="piece-{slug}"' in card  # the link lands on the piece's card
    assert 'href="/review/studio" class="studio" aria-current="page">Studio <span class="count">2</span>' in page
    assert '<meta http-equiv="refresh" content="30; url=/review/studio">' in page
    assert " style=" not in page and "<script" not in page  # the CSP would block both
    pieces_tab = rc.get("/review").text
    assert 'href="/review/studio" class="studio">Studio' in pieces_tab  # and back again
    assert section(page, "Queue more").count("<option") == 4  # the default studio's themes with prompts


def test_queueing_needs_the_csrf_field(rc: TestClient, studio: Studio, jobs: dict[str, int],
                                       caplog: pytest.LogCaptureFixture) -> None:
    page = rc.get("/review/studio").text
    assert '<form method="post" action="/review/studio/queue" class="queue">' in page
    before = queued_jobs(studio)
    form = {"theme": "glacier", "count": "3"}
    for bad in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": csrf_token("another-token", rc.cookies[COOKIE])}):
        r = rc.post("/review/studio/queue", data=form | bad)
        assert r.status_code == 403 and "stale" in r.text, bad
    assert queued_jobs(studio) == before
    with caplog.at_level(logging.INFO, "installation.web.routers.review_studio"):
        r = rc.post("/review/studio/queue", data=form | {"csrf": csrf(page)})
    assert r.status_code == 303 and r.headers["location"] == "/review/studio?queued=3&theme=glacier"
    with studio.catalog(readonly=True) as cat:
        glacier = cat.get_theme("glacier")
        new = cat.list_jobs("queued")[len(before):]
    assert [(j.prompt, j.theme, j.priority, j.settings) for j in new] == [
        (" | ".join((*glacier.prompts, *glacier.negative_prompts)), "glacier", 0, {})] * 3
    ids = ", ".join(str(j.id) for j in new)
    assert f"review: queued job(s) {ids} of theme glacier by Ana via review page" in caplog.messages
    back = rc.get(r.headers["location"]).text
    assert '<p class="notice" role="status">Queued 3 pieces of glacier.</p>' in back
    assert set(job_ids(section(back, "Waiting"))) >= {j.id for j in new}
    forged = rc.get("/review/studio?queued=3&theme=%3Cscript%3E").text
    assert "Queued" not in forged and "<script>" not in forged  # only a known theme is echoed


@pytest.mark.parametrize(("data", "message"), [
    ({"theme": "glacier", "count": "0"}, "must be 1 to 10, not '0'"),
    ({"theme": "glacier", "count": "11"}, "must be 1 to 10, not '11'"),
    ({"theme": "glacier", "count": "two"}, "must be 1 to 10, not 'two'"),
    ({"theme": "glacier", "count": "²"}, "must be 1 to 10"),
    ({"theme": "glacier"}, "must be 1 to 10, not ''"),
    ({"theme": "atlantis", "count": "2"}, "Unknown theme 'atlantis'; one of: coral-reef, glacier"),
    ({"theme": "<script>", "count": "2"}, "Unknown theme '<script>'"),
    ({"count": "2"}, "Unknown theme ''"),
])
def test_bad_counts_and_unknown_themes_queue_nothing(rc: TestClient, studio: Studio, data: dict[str, str],
                                                      message: str) -> None:
    before = queued_jobs(studio)
    r = rc.post("/review/studio/queue", data=data | {"csrf": csrf(rc.get("/review/studio").text)})
    assert r.status_code == 422 and message in html.unescape(r.text) and 'role="alert"' in r.text, r.text
    assert "<script>" not in r.text  # what came in is escaped on the way out
    assert r.headers["content-type"].startswith("text/html") and "<h2>Running" in r.text  # the tab, with the error
    assert queued_jobs(studio) == before


def test_a_theme_without_prompts_is_refused(rc: TestClient, studio: Studio) -> None:
    from curation.catalog import Theme

    with studio.catalog() as cat:
        cat.upsert_theme(Theme(name="empty", title="Empty"))
    page = rc.get("/review/studio").text
    assert 'value="empty"' not in page
    r = rc.post("/review/studio/queue", data={"theme": "empty", "count": "1", "csrf": csrf(page)})
    assert r.status_code == 422 and "has no prompts" in r.text


@pytest.mark.parametrize("mode", ["strip", "pass", "pass+root-path"])
def test_the_studio_tab_under_a_sub_path(studio: Studio, pieces: dict[str, Piece], jobs: dict[str, int],
                                         mode: str) -> None:
    proxy = Proxy(create_app(WebSettings(studio=studio.root, base_url=SUB_BASE, token=TOKEN)), mode)
    with TestClient(proxy, base_url="https://museum.example", follow_redirects=False) as c:
        login(c, PREFIX)
        page = c.get(f"{PREFIX}/review/studio")
        assert page.status_code == 200
        found = links_resolve_under_prefix(c, page.text)
        assert ("form", "action", f"{PREFIX}/review/studio/queue") in found
        assert ("a", "href", f"{PREFIX}/review?status=generated#piece-{pieces['draft'].slug}") in found
        assert f'content="30; url={PREFIX}/review/studio"' in page.text
        r = c.post(f"{PREFIX}/review/studio/queue", data={"theme": "wetland", "count": "1", "csrf": csrf(page.text)})
        assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/review/studio?queued=1&theme=wetland"
        assert "Queued 1 piece of wetland." in c.get(r.headers["location"]).text
        assert ("a", "href", f"{PREFIX}/review/studio") in links(c.get(f"{PREFIX}/review").text)
    assert proxy.outside() == []
    assert [t for _, t, _ in queued_jobs(studio)].count("wetland") == 1


@pytest.mark.parametrize(("seconds", "text"), [(-3, "0 s"), (45, "45 s"), (754, "12 min"), (7530, "2 h 5 min"),
                                               (200000, "2 d 7 h")])
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text



def test_themes_toml_edits_reach_the_queue_form(rc: TestClient, studio: Studio) -> None:
    studio.themes_path.write_text(studio.themes_path.read_text()
                                  + '\n[[theme]]\nname = "kelp"\nprompts = ["a kelp forest:1"]\n')
    page = rc.get("/review/studio").text
    assert 'value="kelp"' in page  # added to the file a moment ago, offered without a restart
    r = rc.post("/review/studio/queue", data={"theme": "kelp", "count": "1", "csrf": csrf(page)})
    assert r.status_code == 303
    with studio.catalog(readonly=True) as cat:
        assert cat.list_jobs("queued")[-1].prompt == "a kelp forest:1"
    studio.themes_path.write_text("[[theme]]\nprompts = 3\n")
    broken = rc.get("/review/studio")
    assert broken.status_code == 200 and "themes.toml was not read" in html.unescape(broken.text)
    assert 'value="kelp"' in broken.text  # the themes as last read stay offered


def jobs_state(studio: Studio) -> dict[int, tuple[str, int, str]]:
    with studio.catalog(readonly=True) as cat:
        return {j.id: (j.status, j.priority, j.error or "") for j in cat.list_jobs()}


def test_each_waiting_job_can_be_moved_first_or_last_or_cancelled(rc: TestClient, studio: Studio,
                                                                  jobs: dict[str, int],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    page = rc.get("/review/studio").text
    token = csrf(page)
    waiting = section(page, "Waiting")
    for name in ("high", "low"):
        assert f'<form method="post" action="/review/studio/jobs/{jobs[name]}" class="job-actions">' in waiting
    assert waiting.count('value="cancel"') == 2 and "/review/studio/jobs/" not in section(page, "Running")
    assert job_ids(waiting) == [jobs["high"], jobs["low"]]

    with caplog.at_level(logging.INFO, "installation.web.routers.review_studio"):
        r = rc.post(f"/review/studio/jobs/{jobs['low']}", data={"csrf": token, "action": "first"})
    assert r.status_code == 303 and r.headers["location"] == f"/review/studio?job={jobs['low']}&done=first"
    assert jobs_state(studio)[jobs["low"]] == ("queued", 4, ""), "one above the highest waiting (3)"
    back = rc.get(r.headers["location"]).text
    assert f"Job #{jobs['low']} moved to the front of the queue." in back
    assert job_ids(section(back, "Waiting")) == [jobs["low"], jobs["high"]], "the order the worker takes them"
    assert f"review: job {jobs['low']} moved to the front of the queue by Ana via review page" in caplog.messages

    assert rc.post(f"/review/studio/jobs/{jobs['low']}", data={"csrf": token, "action": "last"}).status_code == 303
    assert jobs_state(studio)[jobs["low"]] == ("queued", 2, "")
    assert job_ids(section(rc.get("/review/studio").text, "Waiting")) == [jobs["high"], jobs["low"]]

    r = rc.post(f"/review/studio/jobs/{jobs['high']}", data={"csrf": token, "action": "cancel"})
    assert r.status_code == 303 and f"Job #{jobs['high']} cancelled." in rc.get(r.headers["location"]).text
    assert jobs_state(studio)[jobs["high"]] == ("failed", 3, "cancelled: by Ana via review page")
    page = rc.get("/review/studio").text
    assert job_ids(section(page, "Waiting")) == [jobs["low"]] and jobs["high"] in job_ids(section(page, "Failed"))


def test_moving_stays_within_the_priority_bounds(rc: TestClient, studio: Studio, jobs: dict[str, int]) -> None:
    from installation.job_settings import PRIORITY_MAX, PRIORITY_MIN

    with studio.catalog() as cat:
        cat.set_job_priority(jobs["high"], PRIORITY_MAX)
        cat.set_job_priority(jobs["low"], PRIORITY_MIN)
    token = csrf(rc.get("/review/studio").text)
    assert rc.post(f"/review/studio/jobs/{jobs['low']}", data={"csrf": token, "action": "first"}).status_code == 303
    assert jobs_state(studio)[jobs["low"]][1] == PRIORITY_MAX, "not one above the highest: the bound"
    with studio.catalog() as cat:
        cat.set_job_priority(jobs["low"], PRIORITY_MIN)
    assert rc.post(f"/review/studio/jobs/{jobs['high']}", data={"csrf": token, "action": "last"}).status_code == 303
    assert jobs_state(studio)[jobs["high"]][1] == PRIORITY_MIN


def test_job_actions_need_the_csrf_field_and_a_waiting_job(rc: TestClient, studio: Studio,
                                                          jobs: dict[str, int]) -> None:
    before = jobs_state(studio)
    token = csrf(rc.get("/review/studio").text)
    for bad in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": csrf_token("another-token", rc.cookies[COOKIE])}):
        r = rc.post(f"/review/studio/jobs/{jobs['low']}", data={"action": "cancel"} | bad)
        assert r.status_code == 403 and "stale" in r.text, bad
    for job, action, status, message in (
            (jobs["low"], "delete", 422, "one of first, last, cancel, not 'delete'"),
            (jobs["running"], "cancel", 409, f"Job #{jobs['running']} is running: only a waiting job"),
            (jobs["done"], "first", 409, "is done"),
            (987654, "cancel", 409, "Job #987654 is gone")):
        r = rc.post(f"/review/studio/jobs/{job}", data={"csrf": token, "action": action})
        assert r.status_code == status and message in html.unescape(r.text), r.text
        assert 'role="alert"' in r.text and "<h2>Running" in r.text
    assert rc.post("/review/studio/jobs/x", data={"csrf": token, "action": "cancel"}).status_code in (400, 422)
    assert jobs_state(studio) == before
    with review_client(studio.root) as anonymous:
        r = anonymous.post(f"/review/studio/jobs/{jobs['low']}", data={"csrf": token, "action": "cancel"})
        assert r.status_code == 403
    assert jobs_state(studio) == before
    forged = rc.get("/review/studio?job=1&done=%3Cscript%3E").text
    assert "Job #1" not in forged and "<script>" not in forged  # only known codes are echoed


def test_the_studio_tab_shows_every_worker_with_its_heartbeat(rc: TestClient, studio: Studio,
                                                             jobs: dict[str, int]) -> None:
    with studio.catalog() as cat:
        cat.register_worker("gpu0:101", host="gpu-box-a", pid=101, device="cuda:0", capabilities={})
        cat.register_worker("gpu1:102", host="gpu-box-b", pid=102, device="cuda:1", capabilities={})
        cat.register_worker("old:7", host="laptop", pid=7, device="cpu", capabilities={})
        assert cat.heartbeat("gpu0:101", jobs["running"])
        cat.worker_stopped("old:7")
        with cat.transaction(visible=False) as db:  # gpu1 fell silent five minutes ago
            db.execute("UPDATE workers SET heartbeat = heartbeat - 300 WHERE name = 'gpu1:102'")
    workers = section(rc.get("/review/studio").text, "Workers")
    assert '<span class="count">1</span>' in workers  # one of them is running now
    rows = re.findall(r'<li class="worker (\w+)"><p><strong>([^<]+)</strong> <span class="muted">([^<]+)</span>',
                      workers)
    assert [(state, name) for state, name, _ in rows] == [
        ("running", "gpu0:101"), ("stopped", "old:7"), ("silent", "gpu1:102")]
    info = {name: text for _, name, text in rows}
    assert info["gpu0:101"].startswith(f"gpu-box-a · cuda:0 · job #{jobs['running']} · last heard ")
    assert "gpu-box-b · cuda:1 · no job · last heard 5 min ago · silent" == info["gpu1:102"]
