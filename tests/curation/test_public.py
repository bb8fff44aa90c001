"""What the public reads about a piece: the one title rule, the reflection, the prompts' words, the addresses."""

from __future__ import annotations

import dataclasses

import pytest

from curation import public
from curation.catalog import Piece, Theme
from curation.public import (
    base_url,
    image_url,
    piece_path,
    piece_prompts,
    piece_title,
    piece_url,
    prompt_words,
    public_view,
    short_text,
    theme_title,
)

THEME = Theme(name="coral-reef", title="Coral reef", reflection="What a reef looks like for a computer.")


def piece(**fields: object) -> Piece:
    values = {f.name: None for f in dataclasses.fields(Piece)}
    values.update(id=1, slug="coral-reef-ab12cd", title="", reflection="", prompt="a coral reef:1", theme="coral-reef",
                  settings={}, scores={})
    values.update(fields)
    return Piece(**values)  # type: ignore[arg-type]


def test_the_title_is_the_artists_else_the_themes_else_the_prompts_else_the_slug() -> None:
    assert piece_title(piece(title="  Bleached, at noon "), THEME) == "Bleached, at noon"
    assert piece_title(piece(), THEME) == "Coral reef"
    assert piece_title(piece(), dataclasses.replace(THEME, title=" ")) == "A coral reef"
    assert piece_title(piece(), None) == "A coral reef"
    assert piece_title(piece(prompt="a bleached reef:1 | glitch art:0.6 | text:-0.5"), None) == "A bleached reef"
    long = piece(prompt="an old-growth forest of cedars and firs seen at dusk through the fog of a distant valley:1")
    assert piece_title(long, None) == "An old-growth forest of cedars and firs seen at dusk…"
    assert len(piece_title(long, None)) <= public.TITLE_CHARS
    assert piece_title(piece(prompt=":1"), None) == "coral-reef-ab12cd"


def test_the_reflection_is_the_pieces_else_the_themes() -> None:
    assert public_view(piece(reflection=" Mine. "), THEME).reflection == "Mine."
    assert public_view(piece(), THEME).reflection == THEME.reflection
    assert public_view(piece(), None).reflection == ""


def test_prompt_words_read_numbers_from_the_right() -> None:
    assert prompt_words("a coral reef") == ("a coral reef", 1.0)
    assert prompt_words("text, watermark:-0.5") == ("text, watermark", -0.5)
    assert prompt_words("a photo: dawn") == ("a photo: dawn", 1.0)
    assert prompt_words("x:1:2:3") == ("x:1", 2.0)


def test_piece_prompts_come_from_the_settings_else_the_job_prompt() -> None:
    made = piece(settings={"prompts": ["a reef:1", "glitch:0.6", "text:-0.5", ":2"]})
    assert piece_prompts(made) == [("a reef", 1.0), ("glitch", 0.6), ("text", -0.5)]
    assert piece_prompts(piece(prompt="a reef | text:-1")) == [("a reef", 1.0), ("text", -1.0)]
    assert piece_prompts(made, {"prompts": "one:2"}) == [("one", 2.0)]


def test_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSTRTD_BASE_URL", raising=False)
    assert piece_url("coral-reef-ab12cd") == "http://localhost:8000/p/coral-reef-ab12cd"
    monkeypatch.setenv("DSTRTD_BASE_URL", "https://dstrtd.art/")
    assert base_url() == "https://dstrtd.art"
    assert piece_url("x", "https://a.b/") == "https://a.b/p/x"
    assert piece_url("x", "https://museum.example/dstrtd/") == "https://museum.example/dstrtd/p/x"
    assert image_url("x") == "https://dstrtd.art/p/x/image.png"
    assert piece_path("x") == "/p/x" and piece_path("x", "thumb.jpg") == "/p/x/thumb.jpg"
    view = public_view(piece(), THEME, "https://a.b")
    assert (view.path, view.url, view.image_url) == ("/p/coral-reef-ab12cd", "https://a.b/p/coral-reef-ab12cd",
                                                     "https://a.b/p/coral-reef-ab12cd/image.png")


def test_the_route_prefix_is_read_where_addresses_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public, "PIECE_ROUTE", "/piece")
    assert piece_url("x", "https://a.b") == "https://a.b/piece/x"
    assert public_view(piece(), THEME, "https://a.b").image_url == "https://a.b/piece/coral-reef-ab12cd/image.png"


def test_short_text_cuts_at_a_word() -> None:
    assert short_text("  a   b  ", 10) == "a b"
    assert short_text("one two three", 9) == "one two…"


def test_a_theme_goes_by_its_title_else_its_name() -> None:
    assert theme_title(THEME) == "Coral reef"
    assert theme_title(dataclasses.replace(THEME, title="  ")) == "coral-reef"
