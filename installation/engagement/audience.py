"""Audience ratings: the engagement read back from Instagram turned into a ratings file the aesthetic scorer trains on,
so the curators learn from the audience (seed 004: the account allows "data collection regarding the number and
kinds of interactions the audience has with the works").

A piece's engagement is likes + `comment_weight` x comments over its posts, each post counted at its latest reading.
Raw counts are not ratings: they grow with the account and with a post's age. So posts read younger than
`min_age_days` (their counts still climbing) and posts whose owner hid the like count are left out, and what is left
becomes a rating by rank: the least engaging piece 1, the most engaging 10, the rest evenly between (ties share a
rank). The file is the scorer's CSV format (image, score, theme, source), so `dstrtd train scorer --data FILE` reads
it, and the theme column lets the group weighting (seed 001) keep a theme that is posted more from dominating.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from curation.catalog import Catalog
from generator.common.files import write_text_atomic
from installation.engagement.config import RatingsConfig
from installation.engagement.errors import EngagementError
from installation.engagement.readback import PLATFORM

RATING_MIN, RATING_MAX = 1.0, 10.0  # the scorer's scale
COLUMNS = ("image", "score", "theme", "source", "slug", "likes", "comments", "posts")


@dataclass(frozen=True)
class AudienceRating:
    slug: str
    image: Path  # absolute path of the piece's image
    theme: str
    likes: int
    comments: int
    posts: int  # posts of the piece counted
    engagement: float  # likes + comment_weight x comments
    score: float  # 1..10 by rank among the pieces rated together


@dataclass
class AudienceReport:
    ratings: list[AudienceRating]
    skipped: dict[str, list[str]]  # why -> slugs (or shortcodes) left out

    def summary(self) -> str:
        left = "; ".join(f"{len(v)} {k}" for k, v in self.skipped.items() if v)
        return f"{len(self.ratings)} piece(s) rated by the audience" + (f" (left out: {left})" if left else "")


def _age_days(taken_at: str | None, fetched: str) -> float | None:
    if not taken_at:
        return None
    try:
        return (datetime.fromisoformat(fetched) - datetime.fromisoformat(taken_at)).total_seconds() / 86400
    except ValueError:
        return None


def rank_scores(values: Sequence[float]) -> list[float]:
    """Ratings 1..10 by rank: the smallest value 1, the largest 10, evenly between; equal values share their mean
    rank. One value alone gets the middle of the scale."""
    n = len(values)
    if n == 1:
        return [(RATING_MIN + RATING_MAX) / 2]
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return [RATING_MIN + (RATING_MAX - RATING_MIN) * r / (n - 1) for r in ranks]


def audience_ratings(catalog: Catalog, config: RatingsConfig = RatingsConfig()) -> AudienceReport:
    """Rate every piece that has readable engagement (see the module docstring)."""
    comment_weight, min_age_days = config.comment_weight, config.min_age_days
    skipped: dict[str, list[str]] = {"too recent": [], "likes hidden": [], "image missing": []}
    rows: list[tuple[str, Path, str, int, int, int, float]] = []
    for piece in catalog.list_pieces():
        latest: dict[str, dict] = {}  # shortcode -> its latest reading
        for record in catalog.engagement(piece.id):
            if record["platform"] == PLATFORM:
                latest[record["external_id"]] = record  # rows come oldest first
        if not latest:
            continue
        likes = comments = posts = 0
        for code, record in latest.items():
            details = record["details"] or {}
            if details.get("likes_hidden"):
                skipped["likes hidden"].append(code)
                continue
            age = _age_days(details.get("taken_at"), record["fetched"])
            if age is not None and age < min_age_days:
                skipped["too recent"].append(code)
                continue
            likes, comments, posts = likes + int(record["likes"]), comments + int(record["comments"]), posts + 1
        if not posts:
            continue
        image = catalog.abspath(piece.file)
        if not image.is_file():
            skipped["image missing"].append(piece.slug)
            continue
        rows.append((piece.slug, image, piece.theme or "", likes, comments, posts, likes + comment_weight * comments))
    scores = rank_scores([r[-1] for r in rows]) if rows else []
    ratings = [AudienceRating(slug, image, theme, likes, comments, posts, engagement, round(score, 3))
               for (slug, image, theme, likes, comments, posts, engagement), score in zip(rows, scores, strict=True)]
    return AudienceReport(sorted(ratings, key=lambda r: (-r.score, r.slug)), skipped)


def write_ratings_csv(path: str | os.PathLike[str], ratings: Sequence[AudienceRating]) -> Path:
    """Write the ratings in the scorer's CSV format, atomically (a reader never sees half a file)."""
    if len(ratings) < 2:
        raise EngagementError(f"{len(ratings)} piece(s) have readable engagement; a ratings file needs at least 2 "
                              "(read more posts with `dstrtd engagement --profile NAME`, or wait until they are "
                              f"{RatingsConfig().min_age_days:g} days old)")
    if len({r.score for r in ratings}) == 1:
        raise EngagementError(f"all {len(ratings)} pieces are equally engaging ({ratings[0].likes} likes, "
                              f"{ratings[0].comments} comments each): nothing to learn from yet")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in ratings:
        writer.writerow([str(r.image), f"{r.score:.3f}", r.theme, PLATFORM, r.slug, r.likes, r.comments, r.posts])
    return write_text_atomic(path, buf.getvalue())
