"""The artist's review page: look at the pieces of one status and accept, feature or reject them, name them and write
their reflections, with a tap on a phone. Server-rendered, no script, never linked from the public pages.

Auth: the control token (`WebSettings.token`). `/review/login` takes it once and sets a session cookie holding
`<expires>.<nonce>.<name>.<hmac>`, signed with a key derived from the token (the token itself never leaves the
server again; a new token ends every session). Each form carries a CSRF field, an HMAC of the session value; a POST
without it is refused. The cookie is HttpOnly, SameSite=Strict, Secure on an https base URL, and its Path is the
review pages' own ("/dstrtd/review" under a sub-path), so public pages never receive it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from curation.catalog import REFLECTION_MAX, TITLE_MAX, Catalog, CatalogError, Piece
from curation.public import piece_path, piece_title
from installation.errors import InstallationError
from installation.web.deps import CatalogsDep, SettingsDep, valid_slug
from installation.web.render import Safe, fragment, join, layout, render
from installation.web.routers.media import _thumbnail
from installation.web.settings import TOKEN_ENV, WebSettings
from installation.web.views import format_score

log = logging.getLogger(__name__)

COOKIE = "dstrtd_review"
SESSION_S = 12 * 3600  # why: one working day in the gallery; a lost phone's session dies overnight
LOGIN_FAILURES = 5  # failed logins per window and client: the token is long, guessing it needs millions
LOGIN_FAILURES_ALL = 50  # per window from everyone together: forged X-Forwarded-For headers meet this cap
LOGIN_WINDOW_S = 60.0
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


class ReviewRefused(InstallationError):
    """A review request that is answered with a short page (no session, no CSRF field, no token configured)."""

    def __init__(self, status: int, message: str, *, login_link: bool = True) -> None:
        super().__init__(message)
        self.status, self.message, self.login_link = status, message, login_link


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


# -- sessions and CSRF ----------------------------------------------------------------------------------------------

def _key(token: str) -> bytes:
    return hmac.new(token.encode(), b"dstrtd review session v1", hashlib.sha256).digest()


def _sign(token: str, payload: str) -> str:
    return hmac.new(_key(token), payload.encode(), hashlib.sha256).hexdigest()


def make_session(token: str, name: str, now: float | None = None, lifetime_s: int = SESSION_S) -> str:
    """A cookie value for `name`, valid for `lifetime_s` seconds from `now`, signed with a key derived from `token`."""
    expires = int((time.time() if now is None else now) + lifetime_s)
    who = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
    payload = f"{expires}.{secrets.token_urlsafe(12)}.{who}"
    return f"{payload}.{_sign(token, payload)}"


@dataclass(frozen=True)
class Session:
    value: str  # the cookie's value
    name: str  # who logged in
    csrf: str  # the hidden field every form of the session carries


def check_session(token: str, value: str | None, now: float | None = None) -> Session | None:
    """The session in the cookie `value` if its signature is right and it has not expired, else None."""
    if not value or len(value) > 400:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _sign(token, payload).encode()):
        return None
    expires, _, rest = payload.partition(".")
    _nonce, _, who = rest.partition(".")
    try:
        if int(expires) <= (time.time() if now is None else now):
            return None
        name = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return Session(value, name, csrf_token(token, value))


def csrf_token(token: str, session_value: str) -> str:
    return hmac.new(_key(token), b"csrf:" + session_value.encode(), hashlib.sha256).hexdigest()


class LoginGuard:
    """Failed logins per `window_s` seconds: at most `per_client` from one client (its address and, behind a proxy,
    the X-Forwarded-For it sends) and `overall` from everyone, so one stranger guessing cannot lock the artist out.

    `attempt` counts a login as failed before the token is compared and `succeeded` takes it back: a burst of
    concurrent guesses cannot all pass the check before any of them is recorded.
    """

    def __init__(self, per_client: int = LOGIN_FAILURES, overall: int = LOGIN_FAILURES_ALL,
                 window_s: float = LOGIN_WINDOW_S) -> None:
        self.per_client, self.overall, self.window_s = per_client, overall, window_s
        self._by_client: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._all and self._all[0] <= cutoff:
            self._all.popleft()
        for client in list(self._by_client):
            times = self._by_client[client]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._by_client[client]

    def attempt(self, client: str, now: float) -> float:
        """Seconds this client must wait (0: go on; the attempt is then counted as failed until `succeeded`)."""
        with self._lock:
            self._prune(now)
            mine = self._by_client.get(client, deque())
            if len(mine) >= self.per_client:
                return mine[0] + self.window_s - now
            if len(self._all) >= self.overall:
                return self._all[0] + self.window_s - now
            mine.append(now)
            self._by_client[client] = mine
            self._all.append(now)
            return 0.0

    def succeeded(self, client: str, now: float) -> None:
        """Take back the attempt counted at `now`: it was the right token."""
        with self._lock:
            for times in (self._by_client.get(client), self._all):
                if times is not None and now in times:
                    times.remove(now)


def _guard(request: Request) -> LoginGuard:
    state = request.app.state
    with _guard_lock:
        if not hasattr(state, "review_login_guard"):
            state.review_login_guard = LoginGuard()
    return state.review_login_guard


_guard_lock = threading.Lock()


def _token(settings: WebSettings) -> str:
    if settings.token is None:
        raise ReviewRefused(403, "The review page is disabled: no token is configured. Start `dstrtd web` with "
                            f"--token or set ${TOKEN_ENV} to enable it.", login_link=False)
    return settings.token


def require_session(request: Request, settings: SettingsDep) -> Session:
    session = check_session(_token(settings), request.cookies.get(COOKIE))
    if session is None:
        raise ReviewRefused(403, "This needs a review session: log in with the control token (sessions last "
                           f"{SESSION_S // 3600} hours).")
    return session


SessionDep = Annotated[Session, Depends(require_session)]


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form body (the first value of each name). The body is small: the app caps it."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise ReviewRefused(415, "This expects a form (application/x-www-form-urlencoded).")
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, max_num_fields=20,
                          errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ReviewRefused(400, "The form could not be read.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def require_csrf(session: SessionDep, form: FormDep) -> Session:
    if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
        raise ReviewRefused(403, "This form is stale or did not come from the review page; reload the page and try "
                                "again.")
    return session


CsrfDep = Annotated[Session, Depends(require_csrf)]


# -- pages ----------------------------------------------------------------------------------------------------------

def _page(settings: WebSettings, title: str, main: Safe, status: int = 200,
          headers: dict[str, str] | None = None, meta: Safe = Safe("")) -> HTMLResponse:
    return HTMLResponse(layout(f"{title} · DSTRTD", main, root=settings.root_path, meta=Safe(NOINDEX + meta)), status,
                        headers={**PRIVATE, **(headers or {})})


def _message_page(settings: WebSettings, status: int, message: str, *, login_link: bool = True) -> HTMLResponse:
    link = fragment('<p><a href="$href">Log in to review</a></p>', href=settings.href("/review/login"))
    main = fragment('<section class="review"><h1>Review</h1><p class="error">$message</p>$link</section>',
                    message=message, link=link if login_link else Safe(""))
    return _page(settings, "Review", main, status)


def _login_page(settings: WebSettings, error: str = "", status: int = 200) -> HTMLResponse:
    main = render("review_login.html", action=settings.href("/review/login"), name_max=NAME_MAX,
                  error=fragment('<p class="error">$e</p>', e=error) if error else Safe(""))
    return _page(settings, "Log in to review", main, status)


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
    return _page(settings, f"Review: {TABS[status]}", main, http_status)


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
    if check_session(_token(settings), request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(settings.href("/review"), 303, headers=PRIVATE)
    return _login_page(settings)


@router.post("/login", summary="Log in with the control token; sets the session cookie")
def login(request: Request, settings: SettingsDep, form: FormDep) -> Response:
    token = _token(settings)
    guard, client = _guard(request), _client(request)
    now = time.monotonic()
    wait = guard.attempt(client, now)
    if wait > 0:
        log.warning("review login refused: too many failed logins (from %s)", client)
        page = _login_page(settings, f"Too many failed logins; try again in {int(wait) + 1} seconds.", 429)
        page.headers["Retry-After"] = str(int(wait) + 1)
        return page
    given = form.get("token", "").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        log.warning("failed review login from %s", client)
        return _login_page(settings, "That is not the control token.", 401)
    guard.succeeded(client, now)
    name = " ".join(form.get("name", "").split())[:NAME_MAX] or "the artist"
    response = RedirectResponse(settings.href("/review"), 303, headers=PRIVATE)
    response.set_cookie(COOKIE, make_session(token, name), max_age=SESSION_S, path=settings.href("/review"),
                        secure=settings.base_url.startswith("https://"), httponly=True, samesite="strict")
    log.info("review login by %s from %s", name, client)
    return response


def _client(request: Request) -> str:
    host = request.client.host if request.client else "?"
    forwarded = request.headers.get("x-forwarded-for")
    return f"{host} (forwarded for {forwarded[:100]})" if forwarded else host


@router.post("/logout", summary="End the session: clears the cookie")
def logout(settings: SettingsDep, session: CsrfDep) -> Response:
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
def thumbnail(slug: str, catalogs: CatalogsDep, session: SessionDep) -> Response:
    with catalogs.read() as cat:
        piece = _piece(cat, slug)
        path = catalogs.piece_file(cat, piece) if piece is not None else None
    if piece is None or path is None:
        return Response(status_code=404, headers=PRIVATE)
    try:
        data = _thumbnail(path, piece.sha256)
    except Exception as exc:  # why: as on the public thumbnails, an unreadable file is a 404, not a 500
        log.warning("cannot make a thumbnail of %s: %s", path, exc)
        return Response(status_code=404, headers=PRIVATE)
    return Response(data, media_type="image/jpeg", headers={**PRIVATE, "Cache-Control": "private, max-age=3600"})
