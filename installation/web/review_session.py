"""The review pages' sessions: signed cookies recorded on the server, the CSRF field of every form, the login throttle.

`/review/login` takes the control token (`WebSettings.token`) once and sets a session cookie holding
`<expires>.<id>.<name>.<hmac>`, signed with a key derived from the token (the token itself never leaves the
server again; a new token ends every session). The session's id is also recorded in the studio
(`installation.web.session_store`): a cookie counts only while its id is there, so logging out ends the session for
every copy of the cookie, and a restart of the web ends none. Each form carries a CSRF field, an HMAC of the session
value; a POST without it is refused. Refusals are `ReviewRefused`, which the review routes answer with a short page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from generator.common.errors import LockTimeout
from installation.errors import InstallationError
from installation.web.deps import SettingsDep
from installation.web.session_store import SESSIONS_FILE, SessionStore
from installation.web.settings import TOKEN_ENV, WebSettings

COOKIE = "dstrtd_review"
SESSION_S = 12 * 3600  # why: one working day in the gallery; a lost phone's session dies overnight
LOGIN_FAILURES = 5  # failed logins per window and client: the token is long, guessing it needs millions
LOGIN_FAILURES_ALL = 50  # wrong tokens per window from everyone together (guesses from many addresses); a right
#                          token is never held back by it
LOGIN_WINDOW_S = 60.0


class ReviewRefused(InstallationError):
    """A review request that is answered with a short page (no session, no CSRF field, no token configured)."""

    def __init__(self, status: int, message: str, *, login_link: bool = True) -> None:
        super().__init__(message)
        self.status, self.message, self.login_link = status, message, login_link


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
    id: str = ""  # recorded on the server while the session is open
    expires: int = 0  # Unix time


def check_session(token: str, value: str | None, now: float | None = None) -> Session | None:
    """The session in the cookie `value` if its signature is right and it has not expired, else None."""
    if not value or len(value) > 400:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _sign(token, payload).encode()):
        return None
    expires, _, rest = payload.partition(".")
    session_id, _, who = rest.partition(".")
    try:
        if int(expires) <= (time.time() if now is None else now):
            return None
        name = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return Session(value, name, csrf_token(token, value), session_id, int(expires))


def csrf_token(token: str, session_value: str) -> str:
    return hmac.new(_key(token), b"csrf:" + session_value.encode(), hashlib.sha256).hexdigest()


class LoginGuard:
    """Failed logins per `window_s` seconds: at most `per_client` from one client (its address: the connection's, or
    behind a trusted proxy the visitor's; never a header taken on trust) and `overall` from everyone.

    A client over its own cap waits, right token or not: it is the one guessing. The overall cap holds back wrong
    tokens only (`overall_wait`, asked after the comparison): a right token always gets in, so guesses from many
    addresses cannot lock the artist out. `attempt` counts a login as failed before the token is compared and
    `succeeded` takes it back: a burst of concurrent guesses cannot all pass the check before any of them is recorded.
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

    def overall_wait(self, now: float) -> float:
        """Seconds until the failures from everyone fall back to the overall cap (0: they are within it); asked
        about a wrong token only."""
        with self._lock:
            self._prune(now)
            excess = len(self._all) - self.overall
            return self._all[excess - 1] + self.window_s - now if excess > 0 else 0.0


def login_guard(request: Request) -> LoginGuard:
    """The app's one `LoginGuard` (made on first use)."""
    state = request.app.state
    with _guard_lock:
        if not hasattr(state, "review_login_guard"):
            state.review_login_guard = LoginGuard()
    return state.review_login_guard


_guard_lock = threading.Lock()


def review_token(settings: WebSettings) -> str:
    """The control token the sessions are signed with; `ReviewRefused` (403) when none is configured."""
    if settings.token is None:
        raise ReviewRefused(403, "The review page is disabled: no token is configured. Start `dstrtd web` with "
                            f"--token or set ${TOKEN_ENV} to enable it.", login_link=False)
    return settings.token


def session_store(request: Request) -> SessionStore:
    """The app's record of open sessions, in its studio (made on first use)."""
    state = request.app.state
    with _guard_lock:
        if not hasattr(state, "review_sessions"):
            state.review_sessions = SessionStore(Path(state.settings.studio) / SESSIONS_FILE)
    return state.review_sessions


def current_session(request: Request, settings: WebSettings) -> Session | None:
    """The session of the request's cookie when it is signed with the current token, unexpired and still open."""
    session = check_session(review_token(settings), request.cookies.get(COOKIE))
    if session is None or not session_store(request).active(session.id, time.time()):
        return None
    return session


def open_session(request: Request, settings: WebSettings, name: str) -> str:
    """A new session for `name`, recorded in the studio; the cookie's value. `ReviewRefused` (503) when the studio
    cannot be written."""
    token = review_token(settings)
    now = time.time()
    value = make_session(token, name, now=now)
    session = check_session(token, value, now=now)
    assert session is not None
    try:
        session_store(request).add(session.id, name, session.expires, now)
    except (OSError, LockTimeout) as exc:
        raise ReviewRefused(503, f"The session could not be recorded in the studio ({exc}); check that `dstrtd web` "
                                 "may write to the studio folder.", login_link=False) from None
    return value


def end_session(request: Request, session: Session) -> None:
    """Forget `session` on the server: every copy of its cookie stops working."""
    try:
        session_store(request).revoke(session.id, time.time())
    except (OSError, LockTimeout) as exc:
        raise ReviewRefused(503, f"The session could not be ended in the studio ({exc}); check that `dstrtd web` "
                                 "may write to the studio folder.", login_link=False) from None


def require_session(request: Request, settings: SettingsDep) -> Session:
    session = current_session(request, settings)
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


def client_of(request: Request) -> str:
    """Who a login comes from, for the throttle and the log: the connection's address, which behind a trusted proxy
    is already the visitor's (`installation.web.proxies.ForwardedFor`); a forged X-Forwarded-For changes nothing."""
    return request.client.host if request.client else "?"
