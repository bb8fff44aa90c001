"""How engagement is read back and turned into ratings: one frozen dataclass each, light to import.

`dstrtd engagement` derives its options from these fields (same names, defaults and help), so `--help` cannot drift
from what `read_engagement` and `audience_ratings` do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from generator.common.fields import setting
from installation.engagement.errors import EngagementError


@dataclass(frozen=True)
class ReadbackConfig:
    """How the posts are read (`readback.read_engagement`)."""

    max_posts: int | None = setting(None, "read at most this many posts, newest first", metavar="N", show="all")
    # why 2 s: Instagram rate-limits bursts; a polite pace keeps the session usable
    sleep: float = setting(2.0, "seconds between posts that cost a request (be polite)", metavar="S")
    skip_recent_hours: float = setting(12.0, "skip posts read within this many hours (resume)", metavar="H")
    comments: int = setting(0, "also store up to this many comment texts per post (needs a login)", metavar="N")
    # why 0.9: a caption edited after posting (a typo, a tag) still matches; another theme's caption does not
    min_caption_ratio: float = setting(0.9, "how alike a caption must be to an exported one to match (0-1)",
                                       metavar="R")

    def __post_init__(self) -> None:
        if self.max_posts is not None and self.max_posts < 1:
            raise EngagementError(f"max_posts must be at least 1, not {self.max_posts}")
        if not (0 <= self.sleep < math.inf and 0 <= self.skip_recent_hours < math.inf and self.comments >= 0):
            raise EngagementError("sleep, skip_recent_hours and comments must be numbers >= 0")
        if not 0 <= self.min_caption_ratio <= 1:
            raise EngagementError(f"min_caption_ratio must be between 0 and 1, not {self.min_caption_ratio}")


@dataclass(frozen=True)
class RatingsConfig:
    """How engagement becomes the audience's ratings (`audience.audience_ratings`)."""

    # why 3: a comment costs a visitor more than a like; a common weighting in engagement rates
    comment_weight: float = setting(3.0, "a comment counts as this many likes in the ratings", metavar="W")
    # why 3 days: most likes of a post arrive in its first days; younger counts understate it
    min_age_days: float = setting(3.0, "leave out of the ratings posts read younger than this (counts still climb)",
                                  metavar="D")

    def __post_init__(self) -> None:
        if not (0 <= self.comment_weight < math.inf and 0 <= self.min_age_days < math.inf):  # why: NaN fails both
            raise EngagementError(f"comment weight and minimum age must be numbers >= 0, not {self.comment_weight} "
                                  f"and {self.min_age_days}")
