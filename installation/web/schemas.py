"""The JSON shapes of the API: what the pieces and themes look like outside, and what control requests may hold."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from curation.catalog import Piece, Theme
from curation.public import LOSS_FILE, THUMBNAIL_FILE, base_url, piece_path, public_settings, public_view
from installation.job_settings import PRIORITY_MAX, PRIORITY_MIN


class PieceOut(BaseModel):
    slug: str
    title: str
    reflection: str = Field(description="the artist's words on this piece, else its theme's; paragraphs apart by a "
                                        "blank line")
    theme: str | None
    status: str
    prompt: str
    seed: int | None
    width: int
    height: int
    created: str
    url: str = Field(description="the piece's public page, the address its QR code encodes")
    image: str
    thumbnail: str
    scores: dict[str, float] = Field(description="curator -> latest score")


class PieceDetailOut(PieceOut):
    loss_curve: str | None
    settings: dict[str, Any] = Field(description="how it was made (curation.public.PUBLIC_SETTINGS); local paths "
                                                 "reduced to file names")


class PiecePageOut(BaseModel):
    items: list[PieceOut]
    offset: int
    limit: int
    total: int
    next: str | None = Field(description="the next page's URL, or null on the last page")


class ThemeOut(BaseModel):
    name: str
    title: str
    reflection: str
    facts: str
    hashtags: list[str]
    prompts: list[str]
    pieces: int = Field(description="how many of its pieces are published")
    url: str


def piece_out(piece: Piece, theme: Theme | None, base: str) -> dict[str, Any]:
    view = public_view(piece, theme, base)
    return {
        "slug": piece.slug, "title": view.title, "reflection": view.reflection, "theme": piece.theme,
        "status": piece.status, "prompt": piece.prompt, "seed": piece.seed, "width": piece.width,
        "height": piece.height, "created": piece.created, "url": view.url, "image": view.image_url,
        "thumbnail": base_url(base) + piece_path(piece.slug, THUMBNAIL_FILE),
        "scores": {k: v for k, v in piece.scores.items() if v == v and abs(v) != float("inf")},
    }


def piece_detail_out(piece: Piece, theme: Theme | None, base: str, has_loss: bool) -> dict[str, Any]:
    return piece_out(piece, theme, base) | {
        "loss_curve": base_url(base) + piece_path(piece.slug, LOSS_FILE) if has_loss else None,
        "settings": public_settings(piece.settings),
    }


# -- control requests: strict types (no "3" for 3), unknown fields refused, every size bounded --------------------

_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_PRINTABLE)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_PRINTABLE)]
Scalar = Annotated[str, StringConstraints(max_length=500)] | int | float | bool
Setting = Scalar | Annotated[list[Scalar], Field(max_length=32)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QueueIn(_Strict):
    prompt: Line = Field(description="what to generate, e.g. 'a coral reef:1'")
    theme: Name | None = None
    priority: int = Field(0, ge=PRIORITY_MIN, le=PRIORITY_MAX)
    settings: dict[Name, Setting] = Field(default_factory=dict, max_length=32,
                                          description="overrides for the generator's settings, e.g. {\"steps\": 300}")


class QueuedOut(BaseModel):
    job: int


class DecisionIn(_Strict):
    decision: Literal["accepted", "rejected", "featured"]
    by: Name = Field(description="who decides; recorded as the reason 'by <who> via web'")


class DecidedOut(BaseModel):
    slug: str
    status: str


class CommandOut(BaseModel):
    command: str
    id: int
