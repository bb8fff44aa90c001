"""What the gallery shows next: the pieces as the display sees them, and the order policies.

Every policy is a function of the pieces, the history of what was shown and a random generator, so the slideshow
can resume from a saved history and tests can check the order without pygame. No policy ever returns the piece on
screen (never the same piece twice in a row); with one piece there is simply no next one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PieceInfo:
    """One showable piece, read from the catalog."""

    id: int
    slug: str
    path: str  # absolute path of the image
    sha256: str  # a changed file is a new image: decode again, forgive an earlier failure
    title: str = ""
    reflection: str = ""  # the piece's own reflection, else its theme's
    credit: str = ""  # an imported photograph's byline ("Photograph by ..."), shown with its title; "" for AI pieces
    featured: bool = False
    score: float | None = None  # the configured curator's latest score
    group: str = ""  # cluster label of the latest clustering run, else the theme: what `clusters` rotates over


def last_shown(history: Sequence[int]) -> dict[int, int]:
    """piece id -> index of its latest appearance in `history` (oldest first)."""
    return {pid: i for i, pid in enumerate(history)}


def _after(sequence: Sequence[int], current: int | None, exclude: set[int]) -> int | None:
    """The first piece after `current` in a cyclic playlist, skipping `exclude`."""
    candidates = [p for p in sequence if p not in exclude]
    if not candidates:
        return None
    if current not in sequence:
        return candidates[0]
    start = sequence.index(current)
    for k in range(1, len(sequence) + 1):
        pid = sequence[(start + k) % len(sequence)]
        if pid not in exclude:
            return pid
    return None


def featured_first(pieces: Sequence[PieceInfo], history: Sequence[int], current: int | None,
                   exclude: set[int], rng: random.Random, temperature: float) -> int | None:
    """A playlist of the featured pieces, then the accepted ones, each oldest first; it cycles."""
    sequence = [p.id for p in sorted(pieces, key=lambda p: (not p.featured, p.id))]
    return _after(sequence, current, exclude)


def newest_first(pieces: Sequence[PieceInfo], history: Sequence[int], current: int | None,
                 exclude: set[int], rng: random.Random, temperature: float) -> int | None:
    """A playlist from the newest piece to the oldest; it cycles."""
    return _after(sorted((p.id for p in pieces), reverse=True), current, exclude)


def score_weighted(pieces: Sequence[PieceInfo], history: Sequence[int], current: int | None,
                   exclude: set[int], rng: random.Random, temperature: float) -> int | None:
    """Random, weighted by exp((score - best) / temperature); never one of the last few shown.

    Pieces without a score count as the median score. "Last few" is up to 5 and at most half the pieces, so the
    best pieces come back often but the screen never ping-pongs between two of them.
    """
    candidates = [p for p in pieces if p.id not in exclude]
    if not candidates:
        return None
    recent: set[int] = set()
    for pid in reversed(history):
        if len(recent) >= min(5, len(candidates) // 2):
            break
        recent.add(pid)
    candidates = [p for p in candidates if p.id not in recent] or candidates
    known = sorted(p.score for p in pieces if p.score is not None and math.isfinite(p.score))
    median = known[len(known) // 2] if known else 0.0
    values = [p.score if p.score is not None and math.isfinite(p.score) else median for p in candidates]
    best = max(values)
    weights = [math.exp((v - best) / temperature) for v in values]
    return rng.choices(candidates, weights=weights, k=1)[0].id


def round_robin_groups(pieces: Sequence[PieceInfo], history: Sequence[int], current: int | None,
                       exclude: set[int], rng: random.Random, temperature: float) -> int | None:
    """One piece of each cluster (or theme) in turn; inside a group, the piece shown longest ago first."""
    candidates = [p for p in pieces if p.id not in exclude]
    if not candidates:
        return None
    groups = sorted({p.group for p in pieces})
    by_id = {p.id: p for p in pieces}
    current_group = by_id[current].group if current in by_id else None
    start = groups.index(current_group) + 1 if current_group in groups else 0
    seen = last_shown(history)
    for k in range(len(groups)):
        group = groups[(start + k) % len(groups)]
        members = [p for p in candidates if p.group == group]
        if members:
            return min(members, key=lambda p: (seen.get(p.id, -1), p.id)).id
    return None


Policy = Callable[[Sequence[PieceInfo], Sequence[int], "int | None", set[int], random.Random, float], "int | None"]

POLICIES: dict[str, Policy] = {
    "featured": featured_first,
    "score": score_weighted,
    "clusters": round_robin_groups,
    "newest": newest_first,
}
