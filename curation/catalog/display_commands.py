"""The local control channel from the web to a running part (the gallery display): commands left in the catalog
and taken, oldest first, by the part they name. No write here moves the gallery's revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.catalog.database import Database
from curation.catalog.records import from_json, now_iso, to_json


class SqlDisplayCommands:
    def __init__(self, db: Database) -> None:
        self._db = db

    def post(self, target: str, command: str, args: Mapping[str, Any] | None = None) -> int:
        """Leave a command (e.g. target 'display', command 'next') for a running part to take."""
        with self._db.transaction(visible=False) as db:
            row = db.execute("INSERT INTO commands (target, command, args, created) VALUES (?, ?, ?, ?) RETURNING id",
                             (target, command, to_json(dict(args or {})), now_iso())).fetchone()
            return int(row[0])

    def take(self, target: str) -> list[tuple[str, dict[str, Any]]]:
        """Take (and mark taken) the pending commands for `target`, oldest first.

        An empty poll reads only, so a display polling every second leaves the catalog alone.
        """
        pending = "SELECT 1 FROM commands WHERE target = ? AND taken IS NULL LIMIT 1"
        if self._db.execute(pending, (target,)).fetchone() is None:
            return []
        with self._db.transaction(visible=False) as db:
            rows = db.execute("SELECT id, command, args FROM commands WHERE target = ? AND taken IS NULL ORDER BY id"
                              f"{self._db.FOR_UPDATE}{self._db.SKIP_LOCKED}", (target,)).fetchall()
            if rows:
                db.execute(f"UPDATE commands SET taken = ? WHERE id IN ({','.join('?' * len(rows))})",
                           (now_iso(), *[r["id"] for r in rows]))
        return [(r["command"], from_json(r["args"])) for r in rows]
