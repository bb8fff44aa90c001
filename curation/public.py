"""What the public reads about a piece, decided once: its title, its reflection, its words, its page's address.

The web pages and their routes, the posters' and the gallery's QR codes, the social posts and the contact sheet all
ask here, so one piece never carries two names or two addresses. Standard library only (no torch): the gallery
machine runs it.

A piece's page is `<base-url>/p/<slug>`, the address its QR codes encode; the web app declares its route from
`PIECE_ROUTE` when it is built. The base URL may hold a sub-path ("https://museum.example/dstrtd"): absolute URLs are
built from it as it is, links inside the site add its path (`WebSettings.href`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from curation.catalog import Piece, Theme, piece_reflection
from curation.errors import CurationError
from curation.photos import Photo, piece_photo
from generator.common.prompts import read_prompts

PIECE_ROUTE = "/p"  # the path of the pieces' pages inside the site; printed posters carry it: never change it lightly
IMAGE_FILE = "image.png"  # a page's image, thumbnail and loss curve: <piece path>/<file>
THUMBNAIL_FILE = "thumb.jpg"
LOSS_FILE = "loss.png"
BASE_URL_ENV = "DSTRTD_BASE_URL"
DEFAULT_BASE_URL = "http://localhost:8000"
TITLE_CHARS = 60  # why: a title made from a prompt stays one line on a phone, a poster and the gallery panel

# What the public may read of a piece's settings (the API's "settings"): how it was made, the generator's settings and
# what it recorded. Everything else stays in the studio: the worker's name (host:pid), its job and bookkeeping, where
# an imported photo lay on disk. Why an allow-list: a key added later stays private until someone decides otherwise
# (tests/installation/test_public_face.py holds the generator's settings to it).
PUBLIC_SETTINGS = frozenset({
    # generator.config.GenerateConfig
    "prompts", "image_prompts", "noise_prompts", "schedule", "init_image", "init_weight", "size", "steps", "seed",
    "cutn", "cut_pow", "cutout_mode", "augments", "noise_fac", "lr", "optimizer", "plateau_patience",
    "plateau_min_delta", "lr_drop", "auto_stop", "preset", "vqgan", "perceptors", "device", "precision", "compile",
    "save_every",
    # what generate() records beside them
    "models", "weights_sha256", "loss_terms", "steps_done", "stopped_early", "final_loss", "frame_steps", "versions",
    "seconds", "created",
    # an imported photograph (curation.photos): what it is and whom to credit
    "kind", "credit", "licence",
})
# why: the base URL's path is matched against request paths and written into every link and QR code, so only plain
# URL path characters (RFC 3986 pchar, percent-escapes included); anything else must be written percent-encoded
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_ABSOLUTE_PATH = re.compile(r"^(?:/|~|[A-Za-z]:[\\/]|\\\\)")
_SETTINGS_DEPTH = 6

__all__ = [
    "BASE_URL_ENV", "DEFAULT_BASE_URL", "IMAGE_FILE", "LOSS_FILE", "PIECE_ROUTE", "PUBLIC_SETTINGS", "THUMBNAIL_FILE",
    "BaseUrlError", "Photo", "PublicView", "base_url", "base_url_path", "check_base_url", "checked_base_url", "clipped",
    "image_url", "piece_path", "piece_prompts", "piece_reflection", "piece_title", "piece_url", "prompt_words",
    "piece_photo", "public_name", "public_settings", "public_view", "short_text", "theme_title",
]


class BaseUrlError(CurationError):
    """A base URL no visitor could reach the pages at; the message says what is wrong and what a good one looks like."""


def base_url(explicit: str | None = None) -> str:
    """Where the public pages live: `explicit`, else $DSTRTD_BASE_URL, else http://localhost:8000 (no final slash)."""
    return (explicit or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def base_url_path(url: str) -> str:
    """The path of the base URL `url` with no trailing slash: "" at the root of a host, "/dstrtd" for
    https://museum.example/dstrtd. `BaseUrlError` for a query, a fragment, empty or dot segments and characters a
    path cannot hold as they are."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise BaseUrlError(f"base_url must not hold a query or a fragment, not {url!r}")
    path = parts.path.rstrip("/")
    for segment in path.split("/")[1:]:
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise BaseUrlError(f"base_url's path {parts.path!r} is not a plain sub-path such as /dstrtd (no empty "
                               f"or dot segments; other characters percent-encoded)")
    return path


def check_base_url(url: str) -> str:
    """`url` without a final slash when visitors can reach pages under it (what `dstrtd web`, the gallery's and the
    posters' QR codes and the social posts all require): http:// or https://, a host, no spaces, a plain sub-path;
    else `BaseUrlError` saying why."""
    base = url.rstrip("/")
    try:
        netloc = urlsplit(base).netloc
    except ValueError:  # e.g. an unclosed [ of an IPv6 host
        netloc = ""
    if not base.startswith(("http://", "https://")) or any(c.isspace() for c in base) or not netloc:
        raise BaseUrlError(f"base_url must be an http:// or https:// address without spaces, such as "
                           f"https://dstrtd.example or https://museum.example/dstrtd, not {base!r}")
    base_url_path(base)
    return base


def checked_base_url(explicit: str | None = None) -> str:
    """`base_url(explicit)` checked by `check_base_url`; a refusal names $DSTRTD_BASE_URL if the value came from it."""
    try:
        return check_base_url(base_url(explicit))
    except BaseUrlError as exc:
        if explicit or not os.environ.get(BASE_URL_ENV):
            raise
        raise BaseUrlError(f"{exc} (from ${BASE_URL_ENV})") from None


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


def clipped(text: str, limit: int) -> str:
    """`text` as it is when it has at most `limit` characters, else cut at a word boundary (line breaks kept) to at
    most `limit` with an ellipsis; a word longer than `limit` is cut inside. Linear in `limit`, whatever `text` is."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = max(head.rfind(" "), head.rfind("\n"))
    if cut > limit // 2:  # why: a boundary far back would throw away most of what fits
        head = head[:cut]
    return head.rstrip(" \n,;:.") + "…"


def prompt_words(spec: str) -> tuple[str, float]:
    """'text:weight:stop' -> (text, weight), weight 1 when none is given, read by the generator's own rules
    (`generator.common.prompts`); a display never refuses a prompt, so a malformed one reads as its text ("" when
    none)."""
    read = read_prompts(spec)
    return (read[0].text, read[0].weight) if read else ("", 1.0)


def piece_prompts(piece: Piece, settings: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
    """(words, weight) of each prompt the piece was made from, in order: the `prompts` of `settings` (the piece's
    own when None), else its job prompt split at '|'. A negative weight pushed the image away from the words."""
    settings = piece.settings if settings is None else settings
    specs = settings.get("prompts")
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list | tuple) or not specs:
        specs = [piece.prompt]
    return [(p.text, p.weight) for p in read_prompts([str(s) for s in specs])]


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


def public_name(value: str) -> str:
    """A model or file name as the public may see it: an absolute local path becomes its last component."""
    if _ABSOLUTE_PATH.match(value):
        return re.split(r"[\\/]", value.rstrip("\\/"))[-1] or value
    return value


def _public_value(value: Any, depth: int) -> Any:
    if depth > _SETTINGS_DEPTH:
        return None
    if isinstance(value, str):
        return public_name(value)
    if isinstance(value, Mapping):
        return {str(k): _public_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_public_value(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


def public_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A piece's settings as the public may read them: the `PUBLIC_SETTINGS` keys only, local paths reduced to file
    names (they say nothing to a visitor and much to an intruder), NaN and infinities as null."""
    return {str(k): _public_value(v, 1) for k, v in settings.items() if k in PUBLIC_SETTINGS}


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
    photo: Photo | None = None  # an imported photograph, with whom to credit; None: the computer made it


def public_view(piece: Piece, theme: Theme | None, base: str | None = None) -> PublicView:
    """What the public reads about `piece` of `theme`, with addresses under `base` (as `base_url`)."""
    return PublicView(slug=piece.slug, title=piece_title(piece, theme), reflection=piece_reflection(piece, theme),
                      path=piece_path(piece.slug), url=piece_url(piece.slug, base),
                      image_url=image_url(piece.slug, base), photo=piece_photo(piece.settings))
