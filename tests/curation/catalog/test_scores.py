"""Scores (the latest per curator on each piece), decisions with their reasons, clustering runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from curation.catalog import Catalog, CatalogError


def test_scores_decisions_and_clusters(cat: Catalog, png: Callable[..., Path]) -> None:
    p = cat.add_piece({"image.png": png()}, prompt="x:1", theme="coral-reef")
    cat.add_score(p.id, "aesthetic", 4.0, version="tiny@1")
    cat.add_score(p.id, "aesthetic", 6.5, version="tiny@2", details={"k": 1})
    cat.add_score(p.id, "alignment", 0.3)
    assert cat.get_piece(p.id).scores == {"aesthetic": 6.5, "alignment": 0.3}
    assert [s.version for s in cat.scores(p.id)] == ["tiny@1", "tiny@2", ""]
    assert cat.scores(p.id)[1].details == {"k": 1}
    cat.decide(p.id, "accepted", ["aesthetic 6.50 ≥ 5.00"])
    assert cat.get_piece(p.id).status == "accepted"
    assert cat.decisions(p.id)[0].reasons == ("aesthetic 6.50 ≥ 5.00",)
    with pytest.raises(CatalogError, match="a decision is one of"):
        cat.decide(p.id, "generated", [])
    with pytest.raises(CatalogError, match="no piece with id"):
        cat.decide(9999, "accepted", [])
    cat.set_clusters("fused", {p.id: 2}, {p.id: 0.5})
    assert cat.clusters() == {p.id: 2} == cat.clusters("fused")
    assert cat.clusters("other") == {}
