"""Where pieces went public and how the public answered: exports (posters, social posts, an Instagram publication
with its shortcode) and engagement read back (likes, comments). No write here moves the gallery's revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.catalog.database import Database
from curation.catalog.records import from_json, now_iso, to_json


class SqlPublication:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_export(self, piece_id: int, kind: str, path: str = "", *, external_id: str = "",
                   details: Mapping[str, Any] | None = None) -> int:
        """Record an export (poster, social, instagram publication with its shortcode as `external_id`, ...)."""
        with self._db.transaction(visible=False) as db:
            return int(db.execute(
                "INSERT INTO exports (piece_id, kind, path, external_id, details, created) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING id", (piece_id, kind, path, external_id, to_json(dict(details or {})), now_iso())
            ).fetchone()[0])

    def exports(self, piece_id: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        clauses, params = [], []
        if piece_id is not None:
            clauses.append("piece_id = ?")
            params.append(piece_id)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._db.execute(f"SELECT * FROM exports {where} ORDER BY id", params)
        return [dict(r) | {"details": from_json(r["details"])} for r in rows]

    def add_engagement(self, piece_id: int, platform: str, external_id: str, *, likes: int, comments: int,
                       details: Mapping[str, Any] | None = None, fetched: str | None = None) -> None:
        with self._db.transaction(visible=False) as db:
            db.execute(
                """INSERT INTO engagement (piece_id, platform, external_id, likes, comments, details, fetched)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (piece_id, platform, external_id, int(likes), int(comments), to_json(dict(details or {})),
                 fetched or now_iso()))

    def engagement(self, piece_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM engagement WHERE piece_id = ? ORDER BY fetched, id", (piece_id,))
        return [dict(r) | {"details": from_json(r["details"])} for r in rows]
