"""The review pages' Studio tab (/review/studio): what the studio worker is doing, for the artist on a phone.

Running jobs with their progress (recorded by the worker every ~10 % of the steps), the queue in the order the worker
takes it (each waiting job with buttons that move it first or last, or cancel it), the latest failures with their
errors, the latest pieces made (linked to their review cards), and a form that queues pieces of a theme. Same
session, CSRF field and Content-Security-Policy as the rest of /review (no script, no inline style: the bars are
<progress> elements); the page reloads itself every REFRESH_S seconds.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from curation.catalog import Catalog, CatalogError, Job, Theme, WorkerInfo, duration
from curation.public import short_text, theme_title
from installation.job_settings import PRIORITY_MAX, PRIORITY_MIN, JobSettingsError, check_job
from installation.web.deps import CatalogsDep, SettingsDep, valid_slug
from installation.web.render import Safe, fragment, join, render
from installation.web.review_session import CsrfDep, FormDep, Session, SessionDep
from installation.web.routers.review import PRIVATE, ReviewRoute, private_page, tab_links
from installation.web.settings import WebSettings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/review/studio", tags=["review"], include_in_schema=False, route_class=ReviewRoute,
                   default_response_class=HTMLResponse)

QUEUE_MAX = 10  # pieces queued by one tap: a night of work on one GPU at the default 300 steps
FAILED_SHOWN = 10
DONE_SHOWN = 5
QUEUED_SHOWN = 30  # why: the rest is one "and N more" line; a phone needs no 500-row list
REFRESH_S = 30  # why: the worker records progress every ~10 % of a piece, i.e. every 10-60 s on a GPU
PROMPT_SHOWN = 90
WORKERS_SHOWN = 12  # why: a weekend's rented machines; older, stopped ones are in `dstrtd catalog jobs`
# A waiting job's buttons: value -> label. First/last move it before/after every other waiting job (a priority one
# above the highest, one below the lowest, within the queue's bounds); cancel keeps it, as failed with the reason.
JOB_ACTIONS = {"first": "Run first", "last": "Run last", "cancel": "Cancel"}
JOB_DONE = {"first": "moved to the front of the queue", "last": "moved to the end of the queue",
            "cancel": "cancelled"}


def theme_prompt(theme: Theme) -> str:
    """The job prompt of one piece of `theme`: its prompts and negative prompts, as the worker samples them."""
    return " | ".join((*theme.prompts, *theme.negative_prompts))


def _when(iso: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _since(iso: str, now: datetime) -> str:
    when = _when(iso)
    return duration((now - when).total_seconds()) if when is not None else "?"


def _prompt(job: Job) -> Safe:
    return fragment('<p class="prompt">$p</p>', p=short_text(job.prompt, PROMPT_SHOWN))


def _running(job: Job, now: datetime) -> Safe:
    if job.steps > 0:
        loss = f" · loss {job.loss:.4f}" if job.loss is not None else ""
        percent = round(100 * (job.fraction or 0.0))
        bar = fragment('<progress value="$v" max="$m" aria-label="job $id: step $v of $m">$pc %</progress>'
                       '<p class="steps">step $v/$m$loss · $pc %</p>', v=job.step, m=job.steps, id=job.id,
                       loss=loss, pc=percent)
        stale = f" · last step {_since(job.progressed, now)} ago"
    else:  # claimed; the first step (after the models load) is not recorded yet
        bar = fragment('<progress aria-label="job $id: starting">starting</progress>'
                       '<p class="steps">starting: loading models, first step not recorded yet</p>', id=job.id)
        stale = ""
    return fragment('<li class="job running" id="job-$id"><p><strong>#$id</strong> $theme</p>$bar'
                    '<p class="muted">on $worker · running $since$stale · attempt $attempt</p>$prompt</li>',
                    id=job.id, theme=job.theme or "no theme", bar=bar, worker=job.worker or "?",
                    since=_since(job.updated, now), stale=stale, attempt=job.attempts, prompt=_prompt(job))


def _queued(job: Job, now: datetime, settings: WebSettings, session: Session) -> Safe:
    buttons = join(fragment('<button name="action" value="$v" aria-label="$label job $id">$label</button>', v=v,
                            label=label, id=job.id) for v, label in JOB_ACTIONS.items())
    actions = fragment('<form method="post" action="$action" class="job-actions"><input type="hidden" name="csrf" '
                       'value="$csrf">$buttons</form>', action=settings.href(f"/review/studio/jobs/{job.id}"),
                       csrf=session.csrf, buttons=buttons)
    return fragment('<li class="job queued" id="job-$id"><p><strong>#$id</strong> $theme'
                    ' <span class="muted">priority $priority · waiting $since$retry</span></p>$prompt$actions</li>',
                    id=job.id, theme=job.theme or "no theme", priority=job.priority, since=_since(job.created, now),
                    retry=f" · attempt {job.attempts + 1}" if job.attempts else "", prompt=_prompt(job),
                    actions=actions)


def _failed(job: Job, now: datetime) -> Safe:
    where = f" at step {job.step}/{job.steps}" if job.steps else ""
    return fragment('<li class="job failed" id="job-$id"><p><strong>#$id</strong> $theme'
                    ' <span class="muted">failed $since ago$where · $attempts attempt(s)</span></p>'
                    '<p class="error">$error</p>$prompt</li>',
                    id=job.id, theme=job.theme or "no theme", since=_since(job.updated, now), where=where,
                    attempts=job.attempts, error=job.error or "no error recorded", prompt=_prompt(job))


def _done(cat: Catalog, job: Job, settings: WebSettings, now: datetime) -> Safe:
    piece = cat.get_piece(job.piece_id) if job.piece_id is not None else None
    if piece is None or not valid_slug(piece.slug):
        made, status = Safe('<span class="muted">its piece is not in the catalog</span>'), ""
    else:
        card = f"{settings.href('/review')}?{urlencode({'status': piece.status})}#piece-{piece.slug}"
        made = fragment('<a href="$card" class="made"><img src="$thumb" alt="" width="64" height="64" loading="lazy">'
                        '<span>$slug</span></a>', card=card, thumb=settings.href(f"/review/p/{piece.slug}/thumb.jpg"),
                        slug=piece.slug)
        status = f" · {piece.status}"
    return fragment('<li class="job done" id="job-$id"><p><strong>#$id</strong> $theme'
                    ' <span class="muted">done $since ago$status</span></p><p>$made</p></li>',
                    id=job.id, theme=job.theme or "no theme", since=_since(job.updated, now), status=status, made=made)


def _worker(worker: WorkerInfo) -> Safe:
    job = f"job #{worker.job_id}" if worker.job_id is not None else "no job"
    return fragment('<li class="worker $state"><p><strong>$name</strong> <span class="muted">$host · $device · $job · '
                    'last heard $seen ago · $state</span></p></li>', state=worker.state, name=worker.name,
                    host=worker.host or "?", device=worker.device or "?", job=job, seen=duration(worker.seen_s))


def _section(items: list[Safe], empty: str) -> Safe:
    if not items:
        return fragment('<p class="muted">$e</p>', e=empty)
    return fragment('<ul class="jobs">$items</ul>', items=join(items, "\n"))


def studio_page(settings: WebSettings, cat: Catalog, session: Session, *, notice: Safe = Safe(""),
                http_status: int = 200, kept: dict[str, str] | None = None) -> HTMLResponse:
    now = datetime.now(UTC)
    kept = kept or {}
    running = cat.list_jobs("running")
    # the order the worker claims them in: highest priority first, then oldest
    queued = sorted(cat.list_jobs("queued"), key=lambda j: (-j.priority, j.id))
    failed = cat.list_jobs("failed", limit=FAILED_SHOWN, newest_first=True)
    done = cat.list_jobs("done", limit=DONE_SHOWN, newest_first=True)
    workers = cat.list_workers()  # on every machine, the most recently heard first
    more = len(queued) - QUEUED_SHOWN
    queue_list = _section([_queued(j, now, settings, session) for j in queued[:QUEUED_SHOWN]],
                          "Nothing waiting: an idle worker samples a theme with the fewest pieces.")
    if more > 0:
        queue_list = fragment('$list<p class="muted">and $n more</p>', list=queue_list, n=more)
    themes = [t for t in cat.list_themes() if t.prompts]
    chosen = kept.get("theme", "")
    options = join(fragment('<option value="$v"$sel>$label</option>', v=t.name, label=theme_title(t),
                            sel=Safe(" selected") if t.name == chosen else Safe("")) for t in themes)
    form = fragment(
        '<form method="post" action="$action" class="queue"><input type="hidden" name="csrf" value="$csrf">'
        '<label>Theme <select name="theme" required>$options</select></label>'
        '<label>Pieces <input name="count" type="number" min="1" max="$max" value="$count" inputmode="numeric" '
        'required></label><button type="submit">Queue</button></form>',
        action=settings.href("/review/studio/queue"), csrf=session.csrf, options=options, max=QUEUE_MAX,
        count=kept.get("count", "1")) if themes else Safe('<p class="muted">No theme has prompts: add themes to '
                                                          'themes.toml on the studio machine.</p>')
    main = render(
        "review_studio.html", tabs=tab_links(settings, cat, "studio"), notice=notice, form=form,
        running=_section([_running(j, now) for j in running], "No job running. Is `dstrtd studio` started?"),
        n_running=len(running), queued=queue_list, n_queued=len(queued),
        workers=_section([_worker(w) for w in workers[:WORKERS_SHOWN]], "No worker has started on this catalog yet."),
        n_workers=sum(w.state == "running" for w in workers),
        failed=_section([_failed(j, now) for j in failed], "No failed jobs."),
        done=_section([_done(cat, j, settings, now) for j in done], "No pieces made yet."),
        name=session.name, refresh=REFRESH_S, checked=now.strftime("%H:%M:%S UTC"))
    # why the URL: a reload after a queue must not show the confirmation again
    refresh = fragment('<meta http-equiv="refresh" content="$s; url=$url">', s=REFRESH_S,
                       url=settings.href("/review/studio"))
    return private_page(settings, "Review: Studio", main, http_status, meta=refresh)


def _sync_themes(catalogs: Any) -> Safe:
    """Bring the catalog's themes up to `themes.toml`; a notice when the file is broken or the studio is read-only
    (the themes as last read are shown)."""
    try:
        catalogs.studio.sync_themes()
    except (CatalogError, sqlite3.Error, OSError) as exc:  # StudioError, CatalogUnavailable
        log.warning("review: themes.toml not synced (%s)", exc)
        return fragment('<p class="error" role="alert">themes.toml was not read ($e); the themes as last read are '
                        'shown.</p>', e=short_text(str(exc), 300))
    return Safe("")


@router.get("", summary="The Studio tab: running jobs with their progress, the queue, failures, the latest pieces")
def studio(settings: SettingsDep, catalogs: CatalogsDep, session: SessionDep, queued: int | None = None,
           theme: str | None = None, job: int | None = None, done: str | None = None) -> HTMLResponse:
    notice = _sync_themes(catalogs)
    with catalogs.read() as cat:
        # only numbers, known codes and a known theme's name come back through the URL
        if queued is not None and 1 <= queued <= QUEUE_MAX and theme is not None and cat.get_theme(theme) is not None:
            notice = Safe(notice + fragment('<p class="notice" role="status">Queued $n piece$s of $theme.</p>',
                                            n=queued, s="" if queued == 1 else "s", theme=theme))
        if job is not None and done in JOB_DONE:
            notice = Safe(notice + fragment('<p class="notice" role="status">Job #$id $what.</p>', id=job,
                                            what=JOB_DONE[done]))
        return studio_page(settings, cat, session, notice=notice)


@router.post("/queue", summary="Queue pieces of one theme (recorded in the log as 'by <name> via review page')")
def queue(settings: SettingsDep, catalogs: CatalogsDep, session: CsrfDep, form: FormDep) -> Response:
    name, count_text = form.get("theme", ""), form.get("count", "").strip()
    kept = {"theme": name, "count": count_text}
    _sync_themes(catalogs)  # why: a theme added to themes.toml a minute ago can be queued, as with `dstrtd queue`
    with catalogs.write() as cat:
        def refuse(status: int, message: str) -> HTMLResponse:
            return studio_page(settings, cat, session, http_status=status, kept=kept,
                               notice=fragment('<p class="error" role="alert">$e</p>', e=message))

        theme = cat.get_theme(name) if name else None
        if theme is None:
            known = ", ".join(t.name for t in cat.list_themes() if t.prompts) or "none"
            return refuse(422, f"Unknown theme {short_text(name, 40)!r}; one of: {known}.")
        if not theme.prompts:
            return refuse(422, f"The theme {name} has no prompts; add some to themes.toml first.")
        if not (count_text.isascii() and count_text.isdigit()) or not 1 <= int(count_text) <= QUEUE_MAX:
            return refuse(422, f"The number of pieces must be 1 to {QUEUE_MAX}, not {short_text(count_text, 20)!r}.")
        count, prompt = int(count_text), theme_prompt(theme)
        try:  # the rules of `dstrtd queue` and /api/control/queue: a theme's broken prompt is refused here
            checked = check_job(prompt, {}, priority=0, studio=catalogs.studio.root)
            ids = [cat.enqueue(prompt, theme=theme.name, settings=checked) for _ in range(count)]
        except (CatalogError, JobSettingsError) as exc:
            return refuse(422, f"{theme.name}: {exc}")
    log.info("review: queued job(s) %s of theme %s by %s via review page", ", ".join(map(str, ids)), theme.name,
             session.name)
    query = urlencode({"queued": count, "theme": theme.name})
    return RedirectResponse(f"{settings.href('/review/studio')}?{query}", 303, headers=PRIVATE)


def _moved_priority(cat: Catalog, job: Job, where: str) -> int:
    """The priority that puts `job` before (`first`) or after (`last`) every other waiting job, within the bounds."""
    others = [j.priority for j in cat.list_jobs("queued") if j.id != job.id] or [job.priority]
    if where == "first":
        return min(PRIORITY_MAX, max(others) + 1)
    return max(PRIORITY_MIN, min(others) - 1)


@router.post("/jobs/{job_id}", summary="Move a waiting job first or last, or cancel it (recorded with who did it)")
def job_action(job_id: int, settings: SettingsDep, catalogs: CatalogsDep, session: CsrfDep,
               form: FormDep) -> Response:
    action = form.get("action", "")
    with catalogs.write() as cat:
        def refuse(status: int, message: str) -> HTMLResponse:
            return studio_page(settings, cat, session, http_status=status,
                               notice=fragment('<p class="error" role="alert">$e</p>', e=message))

        if action not in JOB_ACTIONS:
            return refuse(422, f"A job's action is one of {', '.join(JOB_ACTIONS)}, not {short_text(action, 20)!r}.")
        job = cat.get_job(job_id)
        if job is None or job.status != "queued":
            state = "gone" if job is None else job.status
            return refuse(409, f"Job #{job_id} is {state}: only a waiting job can be moved or cancelled.")
        try:
            if action == "cancel":
                cat.cancel_job(job_id, f"by {session.name} via review page")
            else:
                cat.set_job_priority(job_id, _moved_priority(cat, job, action))
        except CatalogError as exc:  # claimed by a worker meanwhile
            return refuse(409, str(exc))
    log.info("review: job %d %s by %s via review page", job_id, JOB_DONE[action], session.name)
    query = urlencode({"job": job_id, "done": action})
    return RedirectResponse(f"{settings.href('/review/studio')}?{query}", 303, headers=PRIVATE)
