"""The themes in the catalog: copies of `themes.toml` (see `curation.studio`), read by jobs, pages and the gallery."""

from __future__ import annotations

import json

from curation.catalog.database import Database
from curation.catalog.records import CatalogError, Theme, now_iso


class SqlThemes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, theme: Theme) -> None:
        """Write `theme` (a new one, or over the one of that name); the gallery shows its title and reflection."""
        with self._db.transaction(visible=True) as db:
            db.execute(
                """INSERT INTO themes (name, title, prompts, negative_prompts, reflection, facts, hashtags, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET title=excluded.title, prompts=excluded.prompts,
                     negative_prompts=excluded.negative_prompts, reflection=excluded.reflection,
                     facts=excluded.facts, hashtags=excluded.hashtags, updated=excluded.updated""",
                (theme.name, theme.title, json.dumps(list(theme.prompts)), json.dumps(list(theme.negative_prompts)),
                 theme.reflection, theme.facts, json.dumps(list(theme.hashtags)), now_iso()),
            )

    def get(self, name: str) -> Theme | None:
        row = self._db.execute("SELECT * FROM themes WHERE name = ?", (name,)).fetchone()
        return Theme.from_row(row) if row else None

    def all(self) -> list[Theme]:
        return [Theme.from_row(r) for r in self._db.execute("SELECT * FROM themes ORDER BY name")]

    def require(self, name: str | None) -> None:
        """Nothing for None or a known theme; CatalogError listing the known ones otherwise."""
        if name is not None and self.get(name) is None:
            known = ", ".join(t.name for t in self.all()) or "none"
            raise CatalogError(f"unknown theme {name!r}; known themes: {known}")
