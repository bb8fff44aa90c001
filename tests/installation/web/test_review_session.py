"""The review pages' sessions: signed cookies that expire, a CSRF field bound to the session, the login throttle."""

from __future__ import annotations

import pytest

from installation.web.proxies import TrustedProxies, parse_networks
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
    assert guard.attempt("203.0.113.9", 61.0) == 0.0  # the window has passed


def test_the_overall_cap_holds_back_wrong_tokens_only() -> None:
    guard = LoginGuard(per_client=5, overall=8, window_s=60.0)
    for i in range(8):  # guesses from eight addresses: within the overall cap
        assert guard.attempt(f"203.0.113.{i}", 1.0) == 0.0 and guard.overall_wait(1.0) == 0.0
    assert guard.attempt("203.0.113.99", 2.0) == 0.0, "a new address is not held back before its token is compared"
    assert guard.overall_wait(2.0) == pytest.approx(59.0), "over the cap: a wrong token waits"
    assert guard.attempt("198.51.100.7", 3.0) == 0.0  # the artist: compared, right, taken back
    guard.succeeded("198.51.100.7", 3.0)
    assert guard.overall_wait(61.5) == 0.0, "the window has passed"


def test_forwarded_for_is_believed_from_trusted_proxies_only() -> None:
    proxies = TrustedProxies(parse_networks(["10.0.0.1", "192.168.0.0/16,::1"]))
    assert proxies.client("203.0.113.9", "1.2.3.4") == "203.0.113.9", "not a proxy: the header is ignored"
    assert proxies.client("10.0.0.1", None) == "10.0.0.1"
    assert proxies.client("10.0.0.1", "1.2.3.4") == "1.2.3.4"
    assert proxies.client("10.0.0.1", "6.6.6.6, 1.2.3.4") == "1.2.3.4", "the left part is the visitor's invention"
    assert proxies.client("10.0.0.1", "6.6.6.6, 1.2.3.4, 192.168.1.5") == "1.2.3.4", "through two proxies"
    assert proxies.client("::1", "[2001:db8::7]:4711") == "2001:db8::7"
    assert proxies.client("10.0.0.1", "unknown, 192.168.1.5") == "192.168.1.5", "a malformed hop ends the walk"
    assert proxies.client("10.0.0.1", "1.2.3.4:55") == "1.2.3.4"
    with pytest.raises(ValueError, match="'proxy.local' is not an IP address"):
        parse_networks(["proxy.local"])


def test_the_session_store_forgets_expired_and_excess_sessions_and_survives_a_broken_file(tmp_path) -> None:
    from installation.web import session_store
    from installation.web.session_store import SessionStore

    store = SessionStore(tmp_path / "sessions.json")
    store.add("a", "Ana", expires=100.0, now=10.0)
    store.add("b", "Bo", expires=50.0, now=20.0)
    assert store.active("a", 30.0) and store.active("b", 30.0) and not store.active("c", 30.0)
    assert not store.active("b", 50.0), "expired"
    store.add("c", "Cy", expires=200.0, now=60.0)  # a write drops the expired ones
    assert store.count(60.0) == 2 and '"Bo"' not in (tmp_path / "sessions.json").read_text()
    store.revoke("a", 61.0)
    assert not store.active("a", 61.0) and SessionStore(tmp_path / "sessions.json").active("c", 61.0)
    limit = session_store.MAX_SESSIONS
    for i in range(limit + 5):
        store.add(f"s{i}", "x", expires=10_000.0, now=100.0 + i)
    assert store.count(100.0) == limit and not store.active("s0", 100.0) and store.active(f"s{limit + 4}", 100.0)
    (tmp_path / "sessions.json").write_text("{not json")
    assert not store.active(f"s{limit + 4}", 100.0), "a broken file lets no one in"
    store.add("d", "Di", expires=300.0, now=100.0)
    assert store.active("d", 100.0)
