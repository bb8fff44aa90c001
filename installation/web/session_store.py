"""The review sessions that are open, kept on the server, so logging out ends a session for every copy of its cookie.

Where: `review-sessions.json` in the studio, beside the catalog. Why a file and not the catalog: sessions are the web
app's own short-lived state, not part of the collection (no other part reads them, `catalog check` and backups of the
catalog need not know them, and the catalog's schema stays the collection's); a file in the studio survives a restart
of `dstrtd web` as the catalog would, goes wherever the studio goes, and deleting it logs everyone out. It is written
atomically under a lock, so several web processes on one studio agree. Only a SHA-256 of each session's id is stored:
the file alone opens nothing (the cookie must also carry the signature, made with a key derived from the token).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from generator.common.files import file_lock, write_json_atomic

log = logging.getLogger(__name__)

SESSIONS_FILE = "review-sessions.json"
MAX_SESSIONS = 200  # why: a handful of phones log in; a runaway script logging in in a loop must not grow the file
LOCK_TIMEOUT_S = 10.0


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Open sessions: id (hashed) -> who and until when (Unix time). Reads are cached until the file changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._cache: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None
        self._guard = threading.Lock()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._guard:
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            sessions = data.get("sessions", {}) if isinstance(data, dict) else {}
            sessions = {k: v for k, v in sessions.items() if isinstance(v, dict) and isinstance(k, str)}
        except (OSError, ValueError) as exc:  # a broken file logs everyone out, it never lets anyone in
            log.warning("review sessions file %s unreadable (%s); every review session has ended", self.path, exc)
            sessions = {}
        with self._guard:
            self._cache = (stamp, sessions)
        return sessions

    def _write(self, change: Any, now: float) -> None:
        """Apply `change(sessions)` to the file under its lock, dropping expired sessions; OSError when the studio
        cannot be written."""
        with file_lock(self._lock_path, timeout=LOCK_TIMEOUT_S, what="the review sessions file"):
            sessions = {k: v for k, v in self._read().items() if float(v.get("expires", 0)) > now}
            change(sessions)
            if len(sessions) > MAX_SESSIONS:  # the oldest go first
                for key in sorted(sessions, key=lambda k: float(sessions[k].get("created", 0)))[:-MAX_SESSIONS]:
                    del sessions[key]
            write_json_atomic(self.path, {"version": 1, "sessions": sessions})

    def add(self, session_id: str, name: str, expires: float, now: float) -> None:
        def change(sessions: dict[str, dict[str, Any]]) -> None:
            sessions[_key(session_id)] = {"name": name, "created": now, "expires": expires}

        self._write(change, now)

    def active(self, session_id: str, now: float) -> bool:
        entry = self._read().get(_key(session_id))
        return entry is not None and float(entry.get("expires", 0)) > now

    def revoke(self, session_id: str, now: float) -> None:
        self._write(lambda sessions: sessions.pop(_key(session_id), None), now)

    def count(self, now: float) -> int:
        return sum(float(v.get("expires", 0)) > now for v in self._read().values())
