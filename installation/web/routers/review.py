"""The artist's review page: look at the pieces of one status and accept, feature or reject them, name them and write
their reflections, with a tap on a phone. Server-rendered, no script, never linked from the public pages.

Auth: the control token, taken once at `/review/login`, then a signed session cookie and a CSRF field on every form
(`installation.web.review_session`). The cookie is HttpOnly, SameSite=Strict, Secure on an https base URL, and its
Path is the review pages' own ("/dstrtd/review" under a sub-path), so public pages never receive it.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from curation.catalog import REFLECTION_MAX, TITLE_MAX, Catalog, CatalogError, Piece
from curation.public import piece_path, piece_title
from installation.web.deps import CatalogsDep, SettingsDep, valid_slug
from installation.web.render import Safe, fragment, join, layout, render
from installation.web.review_session import (
    COOKIE,
    SESSION_S,
    CsrfDep,
    FormDep,
    ReviewRefused,
    Session,
    SessionDep,
    client_of,
    current_session,
    end_session,
    login_guard,
    open_session,
    review_token,
)
from installation.web.routers.media import thumbnail_jpeg
from installation.web.settings import WebSettings
from installation.web.views import format_score

log = logging.getLogger(__name__)

NAME_MAX = 40  # who decides, as recorded with the decision ("by <name> via review page")
REASON_MAX = 300
MAX_PAGE = 100_000
# The tabs: status -> label. "generated" pieces are those waiting for a decision.
TABS = {"generated": "Waiting", "accepted": "Accepted", "featured": "Featured", "rejected": "Rejected"}
DECISIONS = {"accepted": "Accept", "featured": "Feature", "rejected": "Reject"}
# why: review pages post forms to themselves; everything else is as strict as the public pages' policy
REVIEW_CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'self'; "
              "frame-ancestors 'none'")
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow", "Content-Security-Policy": REVIEW_CSP}
NOINDEX = Safe('<meta name="robots" content="noindex, nofollow">')
# Confirmations after a POST: code in the redirect's query -> the line shown (no free text travels in a URL).
DONE = {"accepted": "accepted", "featured": "featured", "rejected": "rejected", "title": "title saved",
        "title-cleared": "title cleared (the theme's is shown)", "reflection": "reflection saved",
        "reflection-cleared": "reflection cleared (the theme's is shown)"}


class ReviewRoute(APIRoute):
    """Routes of this router answer `ReviewRefused` with an HTML page of their own (the app's handler answers 403 as
    JSON, which is right for the control API and wrong for a person with a phone)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ReviewRefused as exc:
                settings: WebSettings = request.app.state.settings
                return _message_page(settings, exc.status, exc.message, login_link=exc.login_link)

        return handle


router = APIRouter(prefix="/review", tags=["review"], include_in_schema=False, route_class=ReviewRoute,
                   default_response_class=HTMLResponse)


# -- pages ----------------------------------------------------------------------------------------------------------

def private_page(settings: WebSettings, title: str, main: Safe, status: int = 200,
          headers: dict[str, str] | None = None, meta: Safe = Safe("")) -> HTMLResponse:
    return HTMLResponse(layout(f"{title} · DSTRTD", main, root=settings.root_path, meta=Safe(NOINDEX + meta)), status,
                        headers={**PRIVATE, **(headers or {})})


def _message_page(settings: WebSettings, status: int, message: str, *, login_link: bool = True) -> HTMLResponse:
    link = fragment('<p><a href="$href">Log in to review</a></p>', href=settings.href("/review/login"))
    main = fragment('<section class="review"><h1>Review</h1><p class="error">$message</p>$link</section>',
                    message=message, link=link if login_link else Safe(""))
    return private_page(settings, "Review", main, status)


def _login_page(settings: WebSettings, error: str = "", status: int = 200) -> HTMLResponse:
    main = render("review_login.html", action=settings.href("/review/login"), name_max=NAME_MAX,
                  error=fragment('<p class="error">$e</p>', e=error) if error else Safe(""))
    return private_page(settings, "Log in to review", main, status)


def _hidden(session: Session, status: str, page: int) -> Safe:
    return fragment('<input type="hidden" name="csrf" value="$csrf"><input type="hidden" name="status" value="$s">'
                    '<input type="hidden" name="page" value="$p">', csrf=session.csrf, s=status, p=page)


def _card(cat: Catalog, piece: Piece, settings: WebSettings, session: Session, status: str, page: int,
          kept: dict[tuple[str, str], str]) -> Safe:
    theme = cat.get_theme(piece.theme) if piece.theme else None
    shown = piece_title(piece, theme)
    title = piece.title or fragment('<span class="muted">untitled: shown as “$t”</span>', t=shown)
    scores = join((fragment("<dt>$k</dt><dd>$v</dd>", k=k, v=format_score(v)) for k, v in sorted(piece.scores.items())),
                  "")
    decisions = cat.decisions(piece.id)
    if decisions:
        last = decisions[-1]
        decided = fragment('<p class="decision">Latest decision: <strong>$d</strong> <span class="muted">$when</span>'
                           "</p>$reasons", d=last.decision, when=last.created[:16].replace("T", " "),
                           reasons=fragment('<ul class="reasons">$items</ul>',
                                            items=join(fragment("<li>$r</li>", r=r) for r in last.reasons))
                           if last.reasons else Safe(""))
    else:
        decided = Safe('<p class="decision muted">No decision yet.</p>')
    hidden = _hidden(session, status, page)
    base = settings.href(f"/review/{piece.slug}")
    buttons = join(fragment('<button name="decision" value="$v"$cls>$label</button>', v=v, label=label,
                            cls=Safe(' class="current"') if piece.status == v else Safe(""))
                   for v, label in DECISIONS.items())
    return render(
        "review_card.html", slug=piece.slug, title=title, alt=shown,
        thumb=settings.href(f"/review/p/{piece.slug}/thumb.jpg"), page_href=settings.href(piece_path(piece.slug)),
        status=piece.status, theme=piece.theme or "no theme",
        scores=fragment('<dl class="facts">$rows</dl>', rows=scores) if piece.scores
        else Safe('<p class="muted">No scores.</p>'),
        decided=decided, hidden=hidden, buttons=buttons, decide=base + "/decision", title_action=base + "/title",
        reflection_action=base + "/reflection", title_max=TITLE_MAX, reflection_max=REFLECTION_MAX,
        reason=kept.get((piece.slug, "reason"), ""), title_value=kept.get((piece.slug, "title"), piece.title),
        reflection_value=kept.get((piece.slug, "reflection"), piece.reflection))


def tab_links(settings: WebSettings, cat: Catalog, current: str) -> Safe:
    """The tabs over every review page: one per piece status with its count, then the Studio (the worker's jobs);
    `current` is a status or "studio"."""
    mark = Safe(' aria-current="page"')
    pieces = (fragment('<a href="$href"$current>$label <span class="count">$n</span></a>',
                       href=f"{settings.href('/review')}?{urlencode({'status': s})}", label=label,
                       n=cat.count_pieces(s), current=mark if s == current else Safe(""))
              for s, label in TABS.items())
    studio = fragment('<a href="$href" class="studio"$current>Studio <span class="count">$n</span></a>',
                      href=settings.href("/review/studio"), n=len(cat.list_jobs("running")),
                      current=mark if current == "studio" else Safe(""))
    return join([*pieces, studio])


def _review_page(settings: WebSettings, cat: Catalog, session: Session, status: str, page: int, *,
                 notice: Safe = Safe(""), http_status: int = 200,
                 kept: dict[tuple[str, str], str] | None = None) -> HTMLResponse:
    size = settings.page_size
    found = cat.list_pieces(status, limit=size + 1, offset=(page - 1) * size, newest_first=True)
    shown, has_next = found[:size], len(found) > size
    base = settings.href("/review")
    tabs = tab_links(settings, cat, status)
    cards = join((_card(cat, p, settings, session, status, page, kept or {}) for p in shown), "\n")
    if not shown:
        cards = fragment('<p class="muted">No $label pieces$more.</p>', label=TABS[status].lower(),
                         more=" on this page" if page > 1 else "")
    pager = Safe("")
    if page > 1 or has_next:
        link = '<a href="$href" rel="$rel">$text</a>'
        newer = fragment(link, href=f"{base}?{urlencode({'status': status, 'page': page - 1})}", rel="prev",
                         text="← Newer") if page > 1 else Safe("<span></span>")
        older = fragment(link, href=f"{base}?{urlencode({'status': status, 'page': page + 1})}", rel="next",
                         text="Older →") if has_next else Safe("<span></span>")
        pager = fragment('<nav class="pager">$a$b</nav>', a=newer, b=older)
    main = render("review.html", tabs=tabs, notice=notice, cards=cards, pager=pager, name=session.name,
                  logout=settings.href("/review/logout"), csrf=session.csrf)
    return private_page(settings, f"Review: {TABS[status]}", main, http_status)


def _tab(status: str | None) -> str:
    if status is None or status not in TABS:
        raise ReviewRefused(400, f"Unknown tab {status!r}; one of {', '.join(TABS)}.")
    return status


def _page_number(text: str | None) -> int:
    if text is None or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ReviewRefused(400, f"The page number must be between 1 and {MAX_PAGE}.")
    return int(text)


@router.get("", summary="The review page: pieces of one status, with their scores and decisions")
def review(settings: SettingsDep, catalogs: CatalogsDep, session: SessionDep, status: str = "generated",
           page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, done: str | None = None,
           slug: str | None = None) -> HTMLResponse:
    notice = Safe("")
    if done in DONE and slug is not None and valid_slug(slug):
        notice = fragment('<p class="notice" role="status">$slug: $what.</p>', slug=slug, what=DONE[done])
    with catalogs.read() as cat:
        if status not in TABS:
            return _review_page(settings, cat, session, "generated", 1, http_status=400, notice=fragment(
                '<p class="error" role="alert">$e</p>', e=f"Unknown tab {status!r}; one of {', '.join(TABS)}."))
        return _review_page(settings, cat, session, status, page, notice=notice)


@router.get("/login", summary="The login form (or, with a valid session, the way on to the review page)")
def login_form(request: Request, settings: SettingsDep) -> Response:
    # why: SameSite=Strict keeps the cookie off a link followed from another site (a chat app); the refusal page links
    # here, and this same-site request carries it, so a logged-in artist goes straight on
    if current_session(request, settings) is not None:
        return RedirectResponse(settings.href("/review"), 303, headers=PRIVATE)
    return _login_page(settings)


def _too_many(settings: WebSettings, wait: float) -> HTMLResponse:
    page = _login_page(settings, f"Too many failed logins; try again in {int(wait) + 1} seconds.", 429)
    page.headers["Retry-After"] = str(int(wait) + 1)
    return page


@router.post("/login", summary="Log in with the control token; sets the session cookie")
def login(request: Request, settings: SettingsDep, form: FormDep) -> Response:
    token = review_token(settings)
    guard, client = login_guard(request), client_of(request)
    now = time.monotonic()
    wait = guard.attempt(client, now)
    if wait > 0:
        log.warning("review login refused: too many failed logins (from %s)", client)
        return _too_many(settings, wait)
    given = form.get("token", "").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        crowd = guard.overall_wait(now)
        if crowd > 0:  # guesses from many addresses: wrong tokens wait (a right one never does)
            log.warning("failed review login from %s (more than %d in %.0f s from everywhere)", client,
                        guard.overall, guard.window_s)
            return _too_many(settings, crowd)
        log.warning("failed review login from %s", client)
        return _login_page(settings, "That is not the control token.", 401)
    guard.succeeded(client, now)
    name = " ".join(form.get("name", "").split())[:NAME_MAX] or "the artist"
    response = RedirectResponse(settings.href("/review"), 303, headers=PRIVATE)
    response.set_cookie(COOKIE, open_session(request, settings, name), max_age=SESSION_S,
                        path=settings.href("/review"),
                        secure=settings.base_url.startswith("https://"), httponly=True, samesite="strict")
    log.info("review login by %s from %s", name, client)
    return response


@router.post("/logout", summary="End the session on the server (every copy of its cookie) and clear the cookie")
def logout(request: Request, settings: SettingsDep, session: CsrfDep) -> Response:
    end_session(request, session)
    log.info("review logout by %s", session.name)
    response = RedirectResponse(settings.href("/review/login"), 303, headers=PRIVATE)
    response.delete_cookie(COOKIE, path=settings.href("/review"), secure=settings.base_url.startswith("https://"),
                           httponly=True, samesite="strict")
    return response


def _where(form: dict[str, str]) -> tuple[str, int]:
    """The tab and page a form was sent from (hidden fields), where the answer goes back to."""
    return _tab(form.get("status")), _page_number(form.get("page"))


def _back(settings: WebSettings, form: dict[str, str], done: str, slug: str) -> RedirectResponse:
    status, page = _where(form)
    query = urlencode({"status": status, "page": page, "done": done, "slug": slug})
    return RedirectResponse(f"{settings.href('/review')}?{query}", 303, headers=PRIVATE)


def _piece(cat: Catalog, slug: str) -> Piece | None:
    return cat.get_piece_by_slug(slug) if valid_slug(slug) else None


def _error(settings: WebSettings, cat: Catalog, session: Session, form: dict[str, str], status: int, message: str,
           kept: dict[tuple[str, str], str] | None = None) -> HTMLResponse:
    tab, page = _where(form)
    return _review_page(settings, cat, session, tab, page, http_status=status, kept=kept,
                        notice=fragment('<p class="error" role="alert">$e</p>', e=message))


@router.post("/{slug}/decision", summary="Accept, feature or reject a piece")
def decide(slug: str, settings: SettingsDep, catalogs: CatalogsDep, session: CsrfDep, form: FormDep) -> Response:
    _where(form)
    decision, reason = form.get("decision", ""), " ".join(form.get("reason", "").split())
    with catalogs.write() as cat:
        piece = _piece(cat, slug)
        if piece is None:
            return _error(settings, cat, session, form, 404, f"There is no piece {slug!r}.")
        kept = {(slug, "reason"): form.get("reason", "")}
        if decision not in DECISIONS:
            return _error(settings, cat, session, form, 422,
                          f"A decision is one of {', '.join(DECISIONS)}, not {decision!r}.", kept)
        if len(reason) > REASON_MAX:
            return _error(settings, cat, session, form, 422,
                          f"A reason is at most {REASON_MAX} characters, not {len(reason)}.", kept)
        cat.decide(piece.id, decision, [f"by {session.name} via review page" + (f": {reason}" if reason else "")])
    log.info("review: %s %s by %s", slug, decision, session.name)
    return _back(settings, form, decision, slug)


def _set_words(field: str, slug: str, settings: WebSettings, catalogs: Any, session: Session,
               form: dict[str, str]) -> Response:
    """Write the piece's `field` ("title" or "reflection") from the form; empty text clears it."""
    _where(form)
    text = form.get(field, "")
    with catalogs.write() as cat:
        piece = _piece(cat, slug)
        if piece is None:
            return _error(settings, cat, session, form, 404, f"There is no piece {slug!r}.")
        setter = cat.set_title if field == "title" else cat.set_reflection
        try:
            setter(piece.id, text)
        except CatalogError as exc:
            return _error(settings, cat, session, form, 422, f"{slug}: {exc}", {(slug, field): text})
    return _back(settings, form, field if text.strip() else f"{field}-cleared", slug)


@router.post("/{slug}/title", summary="Name a piece (empty: the theme's title is shown)")
def set_title(slug: str, settings: SettingsDep, catalogs: CatalogsDep, session: CsrfDep, form: FormDep) -> Response:
    return _set_words("title", slug, settings, catalogs, session, form)


@router.post("/{slug}/reflection", summary="The artist's reflection on a piece (empty: the theme's is shown)")
def set_reflection(slug: str, settings: SettingsDep, catalogs: CatalogsDep, session: CsrfDep,
                   form: FormDep) -> Response:
    return _set_words("reflection", slug, settings, catalogs, session, form)


@router.get("/p/{slug}/thumb.jpg", summary="Any piece's thumbnail, for the review page", response_class=Response)
def thumbnail(slug: str, settings: SettingsDep, catalogs: CatalogsDep, session: SessionDep) -> Response:
    with catalogs.read() as cat:
        piece = _piece(cat, slug)
        path = catalogs.piece_file(cat, piece) if piece is not None else None
    if piece is None or path is None:
        return Response(status_code=404, headers=PRIVATE)
    try:
        data = thumbnail_jpeg(path, piece.sha256, settings.max_pixels)
    except Exception as exc:  # why: as on the public thumbnails, an unreadable file is a 404, not a 500
        log.warning("cannot make a thumbnail of %s: %s", path, exc)
        return Response(status_code=404, headers=PRIVATE)
    return Response(data, media_type="image/jpeg", headers={**PRIVATE, "Cache-Control": "private, max-age=3600"})
