"""Engagement read-back: likes and comments of the published posts, matched to pieces and stored in the catalog, so
the curators can learn from the audience (seed 004: the account "will also allow for data collection regarding the
number and kinds of interactions the audience has with the works").

A post is matched to its piece by the shortcode recorded at publication (`dstrtd export mark-published`), else by
its caption against the captions the social export wrote. Each post's row is committed as soon as it is read, so a
failure (login, 403/429, network, a changed format) loses nothing read before it; a second run skips the posts
read within the last hours and goes on where the first stopped. Posts come from a `sources.PostSource`.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from curation.catalog import Catalog
from installation.engagement.config import ReadbackConfig
from installation.engagement.errors import EngagementError
from installation.engagement.sources import PostData, PostLike, PostSource, post_data, post_url

log = logging.getLogger(__name__)

PLATFORM = "instagram"
_SHORTCODE_RE = re.compile(r"^[A-Za-z0-9_-]{5,64}$")
_POST_URL_RE = re.compile(r"instagram\.com/(?:[^/]+/)?(?:p|reel|tv)/([A-Za-z0-9_-]+)")


# -- matching and storing --------------------------------------------------------------------------------------------


def normalize_caption(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def parse_shortcode(text: str) -> str:
    """A post's shortcode from itself or from its URL (`https://www.instagram.com/p/CODE/`)."""
    text = text.strip()
    m = _POST_URL_RE.search(text)
    code = m.group(1) if m else text.strip("/")
    if not _SHORTCODE_RE.match(code):
        raise EngagementError(f"{text!r} is not an Instagram shortcode or post URL "
                          "(e.g. CxYz123AbC or https://www.instagram.com/p/CxYz123AbC/)")
    return code


def published_shortcodes(catalog: Catalog) -> dict[str, int]:
    """shortcode -> piece id, from the `instagram` exports (the latest record wins)."""
    return {e["external_id"]: e["piece_id"] for e in catalog.exports(kind=PLATFORM) if e["external_id"]}


def mark_published(catalog: Catalog, slug: str, shortcode_or_url: str) -> str:
    """Record that piece `slug` was published as the post `shortcode_or_url`; returns the shortcode."""
    piece = catalog.get_piece_by_slug(slug)
    if piece is None:
        raise EngagementError(f"no piece with slug {slug!r} in {catalog.path} (see `dstrtd catalog list`)")
    code = parse_shortcode(shortcode_or_url)
    owner = published_shortcodes(catalog).get(code)
    if owner == piece.id:
        return code
    if owner is not None:
        other = catalog.get_piece(owner)
        raise EngagementError(f"post {code} is already recorded for piece {other.slug if other else owner}")
    catalog.add_export(piece.id, PLATFORM, external_id=code,
                       details={"url": post_url(code), "matched_by": "manual"})
    return code


@dataclass
class EngagementReport:
    stored: list[tuple[str, str, str]] = field(default_factory=list)  # (shortcode, slug, "shortcode"|"caption")
    skipped_recent: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # shortcode -> candidate slugs
    failed: dict[str, str] = field(default_factory=dict)  # shortcode -> why this post was not stored
    error: str | None = None  # what stopped the run early; everything in `stored` is in the catalog

    def summary(self) -> str:
        by_caption = sum(1 for *_, how in self.stored if how == "caption")
        parts = [f"stored {len(self.stored)} posts" + (f" ({by_caption} matched by caption)" if by_caption else ""),
                 f"skipped {len(self.skipped_recent)} read recently", f"{len(self.unmatched)} unmatched"]
        if self.ambiguous:
            parts.append(f"{len(self.ambiguous)} ambiguous")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


class _CaptionIndex:
    def __init__(self, catalog: Catalog) -> None:
        self.entries: list[tuple[int, str]] = []
        seen = set()
        for export in catalog.exports(kind="social"):
            caption = (export.get("details") or {}).get("caption")
            if isinstance(caption, str) and caption.strip():
                key = (export["piece_id"], normalize_caption(caption))
                if key not in seen:
                    seen.add(key)
                    self.entries.append(key)

    def candidates(self, caption: str, min_ratio: float) -> tuple[list[int], float]:
        """Piece ids whose exported caption is closest to `caption` (at least `min_ratio` alike), and the ratio."""
        text = normalize_caption(caption)
        if not text:
            return [], 0.0
        exact = sorted({pid for pid, c in self.entries if c == text})
        if exact:
            return exact, 1.0
        best, ids = 0.0, []
        for pid, c in self.entries:
            matcher = difflib.SequenceMatcher(None, text, c, autojunk=False)
            if matcher.real_quick_ratio() < min_ratio or matcher.quick_ratio() < min_ratio:
                continue
            ratio = matcher.ratio()
            if ratio > best + 1e-9:
                best, ids = ratio, [pid]
            elif abs(ratio - best) <= 1e-9 and pid not in ids:
                ids.append(pid)
        return (sorted(ids), best) if best >= min_ratio else ([], best)


def _recently_read(catalog: Catalog, piece_ids: Iterable[int], cutoff: datetime) -> set[str]:
    recent = set()
    for pid in set(piece_ids):
        for row in catalog.engagement(pid):
            if row["platform"] != PLATFORM:
                continue
            try:
                fetched = datetime.fromisoformat(row["fetched"])
            except ValueError:
                continue
            if (fetched if fetched.tzinfo else fetched.replace(tzinfo=UTC)) >= cutoff:
                recent.add(row["external_id"])
    return recent


def describe_failure(exc: BaseException) -> str:
    """A one-line explanation of why reading Instagram stopped, and what to do."""
    from instaloader import exceptions as ie

    tail = " What was read before is stored; run again later and it goes on from there."
    if isinstance(exc, ie.TwoFactorAuthRequiredException | ie.BadCredentialsException | ie.LoginException):
        return f"login failed ({exc}); make a fresh session with `instaloader --login YOUR_USER`." + tail
    if isinstance(exc, ie.LoginRequiredException):
        return (f"Instagram wants a login ({exc}); make a session with `instaloader --login YOUR_USER` and pass "
                "--session-file." + tail)
    if isinstance(exc, ie.ProfileNotExistsException):
        return f"no such Instagram profile ({exc}); check --profile."
    if isinstance(exc, ie.PrivateProfileNotFollowedException):
        return f"the profile is private and the logged-in account does not follow it ({exc})."
    if isinstance(exc, ie.TooManyRequestsException):
        return f"Instagram is rate-limiting us (429: {exc}); wait an hour or more and raise --sleep." + tail
    if isinstance(exc, ie.QueryReturnedForbiddenException):
        return (f"Instagram refused the request (403: {exc}); the session may have expired or the account is "
                "limited: log in again with `instaloader --login` and wait before retrying." + tail)
    if isinstance(exc, ie.AbortDownloadException):
        return f"instaloader aborted ({exc})." + tail
    if isinstance(exc, ie.ConnectionException | ie.BadResponseException | ie.QueryReturnedBadRequestException):
        text = str(exc)
        if "401" in text:
            return f"Instagram answered 401 Unauthorized ({text}); log in again with `instaloader --login`." + tail
        return f"could not read from Instagram ({text})." + tail
    if isinstance(exc, EngagementError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"network error ({type(exc).__name__}: {exc})." + tail
    return f"{type(exc).__name__}: {exc}." + tail


class _PostReader:
    """Stores the posts of one run, one at a time: matches each to its piece, then writes its counts (one commit)."""

    def __init__(self, catalog: Catalog, config: ReadbackConfig, now: datetime) -> None:
        self.catalog, self.now = catalog, now
        self.report = EngagementReport()
        self.known = published_shortcodes(catalog)  # shortcode -> piece id; caption matches are added as found
        self.linked = set(self.known.values())  # pieces that have a post already: a caption never takes them
        self.captions = _CaptionIndex(catalog)
        self.recent = _recently_read(catalog, self.known.values(), now - timedelta(hours=config.skip_recent_hours))
        self.comments = config.comments  # comment texts kept per post; 0 once Instagram wants a login for them
        self.min_caption_ratio = config.min_caption_ratio
        self._slugs: dict[int, str] = {}

    def slug_of(self, pid: int) -> str:
        if pid not in self._slugs:
            piece = self.catalog.get_piece(pid)
            self._slugs[pid] = piece.slug if piece else str(pid)
        return self._slugs[pid]

    def read(self, post: PostLike) -> str:
        """Store one post; the outcome: "stored", "recent", "unmatched", "ambiguous" or "failed"."""
        code = str(post.shortcode)
        if code in self.recent:
            self.report.skipped_recent.append(code)
            return "recent"
        try:
            data = post_data(post)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.report.failed[code] = (f"its data lacks {exc!s} (Instagram's format may have changed; "
                                        "pip install -U instaloader)")
            log.warning("post %s: %s", code, self.report.failed[code])
            return "failed"
        pid, how = self.match(data)
        if pid is None:
            return how
        self.store(post, data, pid, how)
        return "stored"

    def match(self, data: PostData) -> tuple[int | None, str]:
        """The post's piece and how it was found ("shortcode", "caption"), or None and why ("unmatched",
        "ambiguous"). A match by caption is recorded as the piece's post, so the next run finds it by shortcode."""
        code = data.shortcode
        if code in self.known:
            return self.known[code], "shortcode"
        ids, similarity = self.captions.candidates(data.caption, self.min_caption_ratio)
        free = [i for i in ids if i not in self.linked]
        if not free:
            self.report.unmatched.append(code)
            return None, "unmatched"
        if len(free) > 1:
            self.report.ambiguous[code] = [self.slug_of(i) for i in free]
            log.warning("post %s matches %d pieces by caption (%s); record it with `dstrtd export mark-published "
                        "SLUG %s`", code, len(free), ", ".join(self.report.ambiguous[code]), code)
            return None, "ambiguous"
        pid = free[0]
        self.catalog.add_export(pid, PLATFORM, external_id=code, details={
            "url": data.url, "matched_by": "caption", "similarity": round(similarity, 4)})
        self.known[code] = pid
        self.linked.add(pid)
        return pid, "caption"

    def store(self, post: PostLike, data: PostData, pid: int, how: str) -> None:
        details: dict[str, Any] = {"url": data.url, "taken_at": data.taken_at, "matched_by": how}
        if data.likes is None:
            details["likes_hidden"] = True
        texts = self.comment_texts(post, data)
        if texts is not None:
            details["comment_texts"] = texts
        self.catalog.add_engagement(pid, PLATFORM, data.shortcode, likes=data.likes or 0, comments=data.comments,
                                    details=details, fetched=self.now.isoformat(timespec="seconds"))
        self.report.stored.append((data.shortcode, self.slug_of(pid), how))
        log.info("post %s -> %s (by %s): %s likes, %d comments", data.shortcode, self.slug_of(pid), how,
                 "hidden" if data.likes is None else data.likes, data.comments)

    def comment_texts(self, post: PostLike, data: PostData) -> list[str] | None:
        """Up to `comments` comment texts of the post, or None (none asked, none there, or not readable)."""
        if self.comments <= 0 or data.comments <= 0:
            return None
        from instaloader.exceptions import LoginRequiredException

        try:
            return [str(c.text) for c in itertools.islice(post.get_comments(), self.comments)]
        except LoginRequiredException:
            self.comments = 0
            log.warning("comment texts need a login (--session-file); storing counts only")
        except (KeyError, TypeError, AttributeError) as exc:
            log.warning("post %s: cannot read its comments (%s)", data.shortcode, exc)
        return None


def read_engagement(catalog: Catalog, source: PostSource, config: ReadbackConfig = ReadbackConfig(), *,
                    now: datetime | None = None, wait: Callable[[float], None] = time.sleep,
                    on_post: Callable[[str, str], None] | None = None) -> EngagementReport:
    """Read the source's posts (newest first, at most `config.max_posts`), match each to a piece, store its likes
    and comment count (and up to `config.comments` comment texts) with `Catalog.add_engagement`, one commit a post.

    Posts read within `config.skip_recent_hours` are skipped (resume). `wait(config.sleep)` is called between posts
    that cost a request. Failures end the run with `report.error` set; they never undo what was stored.
    `on_post(shortcode, outcome)` is called after each post ("stored", "recent", "unmatched", "ambiguous", "failed").
    """
    from instaloader.exceptions import AbortDownloadException, InstaloaderException

    reader = _PostReader(catalog, config, now or datetime.now(UTC))
    try:
        posts = iter(source.posts())
        pause = False
        for _ in itertools.count() if config.max_posts is None else range(config.max_posts):
            if pause and config.sleep > 0:
                wait(config.sleep)  # why before `next`: fetching the next post is the request
            post = next(posts, None)
            if post is None:
                break
            outcome = reader.read(post)
            pause = outcome != "recent"  # a post skipped as recent cost no request
            if on_post is not None:
                on_post(str(post.shortcode), outcome)
    except (InstaloaderException, AbortDownloadException, EngagementError, OSError) as exc:
        # OSError covers requests' and urllib3's connection errors; stored rows stay stored
        reader.report.error = describe_failure(exc)
        log.error("engagement read-back stopped: %s", reader.report.error)
    return reader.report


__all__: Sequence[str] = (
    "PLATFORM", "EngagementReport", "describe_failure", "mark_published", "normalize_caption", "parse_shortcode",
    "published_shortcodes", "read_engagement",
)
