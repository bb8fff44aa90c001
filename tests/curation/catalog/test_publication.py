"""Exports and engagement recorded per piece."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from curation.catalog import Catalog


def test_exports_and_engagement_round_trip(cat: Catalog, png: Callable[..., Path]) -> None:
    p = cat.add_piece({"image.png": png()}, prompt="x:1")
    poster = cat.add_export(p.id, "poster", "exports/posters/a.pdf", details={"size": "A3"})
    cat.add_export(p.id, "instagram", external_id="SHORT")
    assert [(e["id"], e["kind"], e["details"]) for e in cat.exports(kind="poster")] == [(poster, "poster",
                                                                                         {"size": "A3"})]
    assert [e["external_id"] for e in cat.exports(p.id)] == ["", "SHORT"]
    cat.add_engagement(p.id, "instagram", "SHORT", likes=3, comments=1, fetched="2024-01-02T00:00:00+00:00")
    cat.add_engagement(p.id, "instagram", "SHORT", likes=1, comments=0, fetched="2024-01-01T00:00:00+00:00")
    assert [e["likes"] for e in cat.engagement(p.id)] == [1, 3]  # oldest reading first
