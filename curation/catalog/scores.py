"""What the curators and the artist recorded about pieces: scores, decisions (with their reasons) and clusters.

Every write here moves the gallery's revision: the gallery orders pieces by their scores and clusters, and a decision
changes which pieces it shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from curation.catalog.database import Database
from curation.catalog.records import PIECE_STATUSES, CatalogError, Decision, Score, from_json, now_iso, to_json


class SqlScores:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_score(self, piece_id: int, curator: str, value: float, *, version: str = "",
                  details: Mapping[str, Any] | None = None) -> None:
        with self._db.transaction(visible=True) as db:
            db.execute(
                "INSERT INTO scores (piece_id, curator, version, value, details, created) VALUES (?, ?, ?, ?, ?, ?)",
                (piece_id, curator, version, float(value), to_json(dict(details or {})), now_iso()))

    def scores(self, piece_id: int) -> list[Score]:
        rows = self._db.execute("SELECT * FROM scores WHERE piece_id = ? ORDER BY id", (piece_id,))
        return [Score(r["piece_id"], r["curator"], r["version"], r["value"], from_json(r["details"]), r["created"])
                for r in rows]

    def decide(self, piece_id: int, decision: str, reasons: Sequence[str]) -> None:
        """Record a decision with its reasons and set the piece's status to it (accepted/rejected/featured)."""
        if decision not in PIECE_STATUSES or decision == "generated":
            raise CatalogError(f"a decision is one of accepted, rejected, featured, not {decision!r}")
        with self._db.transaction(visible=True) as db:
            cur = db.execute("UPDATE pieces SET status=?, updated=? WHERE id=?", (decision, now_iso(), piece_id))
            if cur.rowcount == 0:
                raise CatalogError(f"no piece with id {piece_id}")
            db.execute("INSERT INTO decisions (piece_id, decision, reasons, created) VALUES (?, ?, ?, ?)",
                       (piece_id, decision, json.dumps(list(reasons)), now_iso()))

    def decisions(self, piece_id: int) -> list[Decision]:
        rows = self._db.execute("SELECT * FROM decisions WHERE piece_id = ? ORDER BY id", (piece_id,))
        return [Decision(r["piece_id"], r["decision"], tuple(json.loads(r["reasons"])), r["created"]) for r in rows]

    def set_clusters(self, run: str, labels: Mapping[int, int], distances: Mapping[int, float] | None = None) -> None:
        """Store one clustering run: piece id -> cluster label (and distance to its centroid)."""
        distances = distances or {}
        with self._db.transaction(visible=True) as db:
            db.execute("DELETE FROM clusters WHERE run = ?", (run,))
            db.executemany(
                "INSERT INTO clusters (run, piece_id, label, distance, created) VALUES (?, ?, ?, ?, ?)",
                [(run, pid, int(lab), float(distances.get(pid, 0.0)), now_iso()) for pid, lab in labels.items()])

    def clusters(self, run: str | None = None) -> dict[int, int]:
        """piece id -> label for `run`, or for the most recent run when None."""
        if run is None:
            row = self._db.execute("SELECT run FROM clusters ORDER BY created DESC, run DESC LIMIT 1").fetchone()
            if row is None:
                return {}
            run = row["run"]
        return {r["piece_id"]: r["label"] for r in
                self._db.execute("SELECT piece_id, label FROM clusters WHERE run = ?", (run,))}
