"""The themes in the catalog: written whole, read back, listed by name."""

from __future__ import annotations

from curation.catalog import Catalog, Theme


def test_themes_round_trip(cat: Catalog) -> None:
    theme = Theme(name="glacier", prompts=("a:1", "b:0.5"), hashtags=("#x",), negative_prompts=("n:-1",), title="G")
    cat.upsert_theme(theme)
    assert cat.get_theme("glacier") == theme
    cat.upsert_theme(Theme(name="glacier", prompts=("c:1",)))
    assert cat.get_theme("glacier") == Theme(name="glacier", prompts=("c:1",))  # the whole theme, not a merge
    assert [t.name for t in cat.list_themes()] == ["coral-reef", "glacier"]
    assert cat.get_theme("nope") is None
