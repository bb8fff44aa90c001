"""The review pages' sessions: signed cookies that expire, a CSRF field bound to the session, the login throttle."""

from __future__ import annotations

import pytest

from installation.web.review_session import LoginGuard, check_session, csrf_token, make_session

TOKEN = "test-token-0123456789abcdef"


def test_a_session_names_who_logged_in_until_it_expires() -> None:
    value = make_session(TOKEN, "Ana Lúcia", now=1000.0, lifetime_s=60)
    session = check_session(TOKEN, value, now=1059.0)
    assert session is not None and session.name == "Ana Lúcia" and session.csrf == csrf_token(TOKEN, value)
    assert check_session(TOKEN, value, now=1060.0) is None  # expired
    assert check_session("another-token-0123456789", value, now=1001.0) is None  # a new token ends every session
    payload, _, signature = value.rpartition(".")
    assert check_session(TOKEN, payload.replace("QW5h", "Qm9i") + "." + signature, now=1001.0) is None  # tampered
    assert csrf_token(TOKEN, make_session(TOKEN, "Ana Lúcia", now=1000.0)) != session.csrf  # one field a session


def test_one_guessing_client_cannot_lock_the_artist_out() -> None:
    guard = LoginGuard(per_client=5, overall=8, window_s=60.0)
    for i in range(5):
        assert guard.attempt("203.0.113.9", float(i)) == 0.0  # five wrong guesses from a stranger
    assert guard.attempt("203.0.113.9", 5.0) == pytest.approx(55.0)  # the stranger waits
    assert guard.attempt("198.51.100.7", 6.0) == 0.0  # the artist, elsewhere, does not
    guard.succeeded("198.51.100.7", 6.0)  # the right token: not counted as a failure
    for i in range(3):  # forged X-Forwarded-For values make new "clients", until the overall cap
        assert guard.attempt(f"203.0.113.9 (forwarded for 10.0.0.{i})", 7.0) == 0.0
    assert guard.attempt("203.0.113.9 (forwarded for 10.0.0.99)", 8.0) > 0
    assert guard.attempt("203.0.113.9", 61.0) == 0.0  # the window has passed
