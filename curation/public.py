"""What the public reads about a piece, decided once: its title, its reflection, its words, its page's address.

The web pages and their routes, the posters' and the gallery's QR codes, the social posts and the contact sheet all
ask here, so one piece never carries two names or two addresses. Standard library only (no torch): the gallery
machine runs it.

A piece's page is `<base-url>/p/<slug>`, the address its QR codes encode; the web app declares its route from
`PIECE_ROUTE` when it is built. The base URL may hold a sub-path ("https://museum.example/dstrtd"): absolute URLs are
built from it as it is, links inside the site add its path (`WebSettings.href`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from curation.catalog import Piece, Theme, piece_reflection

PIECE_ROUTE = "/p"  # the path of the pieces' pages inside the site; printed posters carry it: never change it lightly
IMAGE_FILE = "image.png"  # a page's image, thumbnail and loss curve: <piece path>/<file>
THUMBNAIL_FILE = "thumb.jpg"
LOSS_FILE = "loss.png"
BASE_URL_ENV = "DSTRTD_BASE_URL"
DEFAULT_BASE_URL = "http://localhost:8000"
TITLE_CHARS = 60  # why: a title made from a prompt stays one line on a phone, a poster and the gallery panel

__all__ = [
    "BASE_URL_ENV", "DEFAULT_BASE_URL", "IMAGE_FILE", "LOSS_FILE", "PIECE_ROUTE", "THUMBNAIL_FILE", "PublicView",
    "base_url", "image_url", "piece_path", "piece_prompts", "piece_reflection", "piece_title", "piece_url",
    "prompt_words", "public_view", "short_text", "theme_title",
]


def base_url(explicit: str | None = None) -> str:
    """Where the public pages live: `explicit`, else $DSTRTD_BASE_URL, else http://localhost:8000 (no final slash)."""
    return (explicit or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def piece_path(slug: str, file: str = "") -> str:
    """The path of a piece's page inside the site ("/p/<slug>"), or of one of its files ("/p/<slug>/image.png")."""
    path = f"{PIECE_ROUTE}/{slug}"
    return f"{path}/{file}" if file else path


def piece_url(slug: str, base: str | None = None) -> str:
    """The absolute URL of a piece's page, the one its QR codes encode: `<base>/p/<slug>` (base as `base_url`)."""
    return base_url(base) + piece_path(slug)


def image_url(slug: str, base: str | None = None) -> str:
    """The absolute URL of a published piece's image."""
    return base_url(base) + piece_path(slug, IMAGE_FILE)


def short_text(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def prompt_words(spec: str) -> tuple[str, float]:
    """'text:weight:stop' -> (text, weight), weight 1 when none is given. The text may hold colons itself, so the
    numbers are read from the right; a display never refuses a prompt, the generator does that."""
    parts = spec.split(":")
    numbers: list[float] = []
    while len(parts) > 1 and len(numbers) < 2:
        try:
            numbers.insert(0, float(parts[-1]))
        except ValueError:
            break
        parts.pop()
    return ":".join(parts).strip(), (numbers[0] if numbers else 1.0)


def piece_prompts(piece: Piece, settings: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
    """(words, weight) of each prompt the piece was made from, in order: the `prompts` of `settings` (the piece's
    own when None), else its job prompt split at '|'. A negative weight pushed the image away from the words."""
    settings = piece.settings if settings is None else settings
    specs = settings.get("prompts")
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list | tuple) or not specs:
        specs = piece.prompt.split("|")
    return [(text, weight) for text, weight in map(prompt_words, map(str, specs)) if text]


def piece_title(piece: Piece, theme: Theme | None) -> str:
    """The one name a piece goes by in public: the artist's title, else its theme's, else the words of its first
    prompt (capitalised, at most `TITLE_CHARS`), else its slug."""
    if piece.title.strip():
        return piece.title.strip()
    if theme is not None and theme.title.strip():
        return theme.title.strip()
    prompts = piece_prompts(piece, {})
    if prompts:
        text = prompts[0][0]
        return short_text(text[:1].upper() + text[1:], TITLE_CHARS)
    return piece.slug


def theme_title(theme: Theme) -> str:
    """The name a theme goes by in public: its title, else its name."""
    return theme.title.strip() or theme.name


@dataclass(frozen=True)
class PublicView:
    """Everything the public reads about one piece, for a surface that shows it."""

    slug: str
    title: str
    reflection: str  # the piece's own, else its theme's, else ""; paragraphs apart by a blank line
    path: str  # inside the site: "/p/<slug>"
    url: str  # absolute: what its QR codes encode
    image_url: str


def public_view(piece: Piece, theme: Theme | None, base: str | None = None) -> PublicView:
    """What the public reads about `piece` of `theme`, with addresses under `base` (as `base_url`)."""
    return PublicView(slug=piece.slug, title=piece_title(piece, theme), reflection=piece_reflection(piece, theme),
                      path=piece_path(piece.slug), url=piece_url(piece.slug, base),
                      image_url=image_url(piece.slug, base))
