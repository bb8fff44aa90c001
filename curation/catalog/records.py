"""What the catalog holds, as frozen records, and the rules for the words people read (titles, reflections).

Backend-neutral: a record is built from any row that answers `row["column"]` (sqlite3.Row, a PostgreSQL dict row).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

from curation.errors import CurationError

PieceStatus = Literal["generated", "accepted", "rejected", "featured"]
JobStatus = Literal["queued", "running", "done", "failed"]
WorkerState = Literal["running", "stopped", "silent"]
PIECE_STATUSES: tuple[str, ...] = get_args(PieceStatus)
PUBLIC_STATUSES = ("accepted", "featured")
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
# why 120 s: four heartbeats (every lease/4) may fail in a row (a 30-75 s busy catalog, a database restart) before a
# live worker loses its job, and a dead worker's job waits at most two minutes for another one
LEASE_S = 120.0
TITLE_MAX = 120  # why: two lines of a poster title or the gallery panel at their smallest type
# why: about what a phone shows under the image without scrolling; the gallery panel shows its first 4 lines
REFLECTION_MAX = 600

_SLUG_RE = re.compile(r"[^a-z0-9]+")


class CatalogError(CurationError):
    """A problem with the catalog or with what was asked of it; the message says what and how to fix it."""


class CatalogUnavailable(CatalogError):
    """The catalog is busy (SQLite's write lock held too long) or unreachable (the PostgreSQL server down, the network
    gone): nothing was written, and the same call may succeed later."""


class CatalogConflict(CatalogError):
    """The catalog refused a write that breaks one of its rules (a constraint): nothing was written."""


class Row(Protocol):
    """A database row read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def duration(seconds: float) -> str:
    """A duration as people read it: 45 -> '45 s', 754 -> '12 min', 7530 -> '2 h 5 min', 200000 -> '2 d 7 h'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def to_json(value: Any) -> str:
    """A JSON column's text: sorted keys, anything else through `str`."""
    return json.dumps(value, sort_keys=True, default=str)


def from_json(text: str | None) -> Any:
    """A JSON column's value; an empty column reads as {}."""
    return json.loads(text) if text else {}


def check_piece_status(status: str) -> None:
    if status not in PIECE_STATUSES:
        raise CatalogError(f"unknown piece status {status!r}; one of {', '.join(PIECE_STATUSES)}")


@dataclass(frozen=True)
class Theme:
    name: str
    prompts: tuple[str, ...] = ()
    reflection: str = ""
    facts: str = ""
    hashtags: tuple[str, ...] = ()
    negative_prompts: tuple[str, ...] = ()
    title: str = ""

    @classmethod
    def from_row(cls, row: Row) -> Theme:
        return cls(
            name=row["name"],
            prompts=tuple(json.loads(row["prompts"])),
            reflection=row["reflection"],
            facts=row["facts"],
            hashtags=tuple(json.loads(row["hashtags"])),
            negative_prompts=tuple(json.loads(row["negative_prompts"])),
            title=row["title"],
        )


@dataclass(frozen=True)
class Job:
    id: int
    prompt: str
    theme: str | None
    settings: dict[str, Any]
    status: JobStatus
    attempts: int
    error: str
    worker: str
    piece_id: int | None
    created: str
    updated: str
    priority: int = 0
    # The latest progress a worker recorded for the current (or last) attempt; 0/None/"" before the first record.
    step: int = 0  # steps done, 1..steps
    steps: int = 0
    loss: float | None = None
    progressed: str = ""  # when `step` was recorded (ISO, UTC)
    lease_until: float | None = None  # while running: epoch seconds (the catalog's clock) its worker holds it until

    @property
    def fraction(self) -> float | None:
        """How far the recorded progress is, 0..1, or None when there is none."""
        return min(1.0, self.step / self.steps) if self.steps > 0 else None

    @classmethod
    def from_row(cls, row: Row) -> Job:
        progress = from_json(row["progress"])
        loss = progress.get("loss")
        return cls(
            id=row["id"], prompt=row["prompt"], theme=row["theme"], settings=from_json(row["settings"]),
            status=row["status"], attempts=row["attempts"], error=row["error"], worker=row["worker"],
            piece_id=row["piece_id"], created=row["created"], updated=row["updated"], priority=row["priority"],
            step=int(progress.get("step", 0)), steps=int(progress.get("steps", 0)),
            loss=None if loss is None else float(loss), progressed=str(progress.get("updated", "")),
            lease_until=row["lease_until"],
        )


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as the catalog last heard of it (workers.py): what it runs on, what it runs now, its last heartbeat."""

    name: str
    host: str
    pid: int
    device: str
    capabilities: dict[str, Any]  # what it can run: device memory, models on disk, largest size (see the worker)
    job_id: int | None
    started: str  # ISO, UTC
    seen_s: float  # seconds since its last heartbeat, by the catalog's clock
    stopped: str  # ISO, UTC, when it stopped cleanly; "" while it runs (or when it died)

    @property
    def state(self) -> WorkerState:
        """running; stopped (cleanly); silent: no heartbeat for a lease length without a clean stop (it died, or its
        machine is cut off)."""
        if self.stopped:
            return "stopped"
        return "running" if self.seen_s <= LEASE_S else "silent"

    @classmethod
    def from_row(cls, row: Row) -> WorkerInfo:
        return cls(name=row["name"], host=row["host"], pid=row["pid"], device=row["device"],
                   capabilities=from_json(row["capabilities"]), job_id=row["job_id"], started=row["started"],
                   seen_s=max(0.0, float(row["seen_s"])), stopped=row["stopped"])


@dataclass(frozen=True)
class Piece:
    id: int
    slug: str
    file: str  # relative to the studio root, e.g. "pieces/coral-reef-3kq7a2/image.png"
    sha256: str
    theme: str | None
    prompt: str
    seed: int | None
    settings: dict[str, Any]
    created: str
    updated: str
    status: PieceStatus
    title: str
    width: int
    height: int
    job_id: int | None
    scores: dict[str, float] = field(default_factory=dict)  # curator -> latest value
    reflection: str = ""  # the artist's words on this piece; "" shows its theme's (see `piece_reflection`)

    @property
    def folder(self) -> str:
        """The piece's own folder, relative to the studio root (its image, sidecar, loss trace and plot)."""
        return os.path.dirname(self.file)

    @classmethod
    def from_row(cls, row: Row, scores: dict[str, float] | None = None) -> Piece:
        return cls(
            id=row["id"], slug=row["slug"], file=row["file"], sha256=row["sha256"], theme=row["theme"],
            prompt=row["prompt"], seed=row["seed"], settings=from_json(row["settings"]), created=row["created"],
            updated=row["updated"], status=row["status"], title=row["title"], width=row["width"],
            height=row["height"], job_id=row["job_id"], scores=scores or {}, reflection=row["reflection"],
        )


@dataclass(frozen=True)
class Score:
    piece_id: int
    curator: str
    version: str
    value: float
    details: dict[str, Any]
    created: str


@dataclass(frozen=True)
class Decision:
    piece_id: int
    decision: str
    reasons: tuple[str, ...]
    created: str


def piece_reflection(piece: Piece, theme: Theme | None) -> str:
    """What visitors read about `piece`: its own reflection, else its theme's, else "" (paragraphs kept)."""
    if piece.reflection.strip():
        return piece.reflection.strip()
    return theme.reflection.strip() if theme is not None else ""


def tidy_reflection(text: str) -> str:
    """Spaces and line breaks inside a paragraph become one space; paragraphs (split by blank lines) stay apart."""
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n[ \t\r\f\v]*\n", text.replace("\r\n", "\n")))
    return "\n\n".join(p for p in paragraphs if p)


def control_characters(text: str, allow: str = "") -> list[str]:
    """The control characters in `text` (but those in `allow`), as U+XXXX: a NUL in a title stops the display's
    font renderer, and none belongs in words meant to be read."""
    return sorted({f"U+{ord(c):04X}" for c in text if c not in allow and unicodedata.category(c) == "Cc"})


def checked_title(title: str) -> str:
    """`title` with its whitespace tidied, or CatalogError when a poster or the gallery could not show it."""
    title = " ".join(title.split())
    bad = control_characters(title)
    if bad:
        raise CatalogError(f"a title is plain text; it holds control characters {', '.join(bad)}")
    if len(title) > TITLE_MAX:
        raise CatalogError(f"a title is at most {TITLE_MAX} characters (posters and the gallery panel show it "
                           f"whole), not {len(title)}")
    return title


def checked_reflection(text: str) -> str:
    """`text` tidied (paragraph breaks kept), or CatalogError when it is too long or holds control characters."""
    text = tidy_reflection(text)
    if len(text) > REFLECTION_MAX:
        raise CatalogError(f"a reflection is at most {REFLECTION_MAX} characters (the gallery shows 4 lines of it, "
                           f"the page the rest), not {len(text)}; shorten it by {len(text) - REFLECTION_MAX}")
    bad = control_characters(text, allow="\n")
    if bad:
        raise CatalogError(f"a reflection is plain text; it holds control characters {', '.join(bad)}")
    return text


def slugify(text: str, max_len: int = 32) -> str:
    """Lower-case ASCII words joined by '-', cut at a word boundary: 'Old-growth Forest!' -> 'old-growth-forest'."""
    slug = _SLUG_RE.sub("-", text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "piece"
