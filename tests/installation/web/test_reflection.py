"""A piece's own reflection: its page, its description and the API read it; its theme's page keeps the theme's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.studio import Studio

from .support import make_client, meta_tags

THEIRS = "This is what a coral reef looks like for a computer. Is your perception distorted?"
MINE = "Bleached at noon: the fish have left & the <reef> stays."
SECOND = "A second paragraph, in the artist's words."


def test_the_pieces_own_reflection_replaces_the_themes_for_that_piece_only(studio: Studio,
                                                                            pieces: dict[str, Piece]) -> None:
    reef, reef2 = pieces["reef"], pieces["reef2"]
    with studio.catalog() as cat:
        cat.set_reflection(reef.id, f"{MINE}\n\n{SECOND}")
    with make_client(studio.root) as client:
        page = client.get(f"/p/{reef.slug}").text
        assert '<p class="lead">Bleached at noon: the fish have left &amp; the &lt;reef&gt; stays.</p>' in page
        assert f'<p class="lead">{SECOND.replace(chr(39), "&#x27;")}</p>' in page
        assert THEIRS not in page, "the theme's reflection still shows on a piece with its own"
        assert "Coral reefs support more species" in page  # the theme's facts stay
        meta = meta_tags(page)
        assert meta["og:description"] == meta["description"] == f"{MINE} {SECOND}"

        other = client.get(f"/p/{reef2.slug}").text
        assert THEIRS in other and MINE.split(":")[0] not in other
        assert meta_tags(other)["og:description"].startswith(THEIRS)

        theme_page = client.get("/t/coral-reef").text
        assert THEIRS in theme_page and "Bleached at noon" not in theme_page
        assert meta_tags(theme_page)["og:description"].startswith(THEIRS)

        api = client.get(f"/api/pieces/{reef.slug}").json()
        assert api["reflection"] == f"{MINE}\n\n{SECOND}"
        listed = {p["slug"]: p for p in client.get("/api/pieces").json()["items"]}
        assert listed[reef.slug]["reflection"] == api["reflection"]
        assert listed[reef2.slug]["reflection"] == THEIRS
        assert listed[pieces["evil"].slug]["reflection"] == ""  # no theme, no words of its own
        assert client.get("/api/themes/coral-reef").json()["reflection"] == THEIRS
        schema = client.get("/api/openapi.json").json()["components"]["schemas"]["PieceOut"]
        assert "reflection" in schema["required"]


def test_clearing_it_brings_the_themes_back(studio: Studio, pieces: dict[str, Piece]) -> None:
    reef = pieces["reef"]
    with studio.catalog() as cat:
        cat.set_reflection(reef.id, MINE)
        cat.set_reflection(reef.id, "")
    with make_client(studio.root) as client:
        page = client.get(f"/p/{reef.slug}").text
        assert THEIRS in page and "Bleached at noon" not in page
        assert client.get(f"/api/pieces/{reef.slug}").json()["reflection"] == THEIRS


def test_a_piece_with_neither_has_no_empty_lead(client: TestClient, pieces: dict[str, Piece]) -> None:
    page = client.get(f"/p/{pieces['evil'].slug}").text
    assert '<p class="lead"></p>' not in page
    assert meta_tags(page)["og:description"] == "This image was created by Artificial Intelligence."
