"""Engagement read-back: likes and comments of the published posts, matched to pieces and stored in the catalog, so
the curators can learn from the audience (seed 004: the account "will also allow for data collection regarding the
number and kinds of interactions the audience has with the works").

A post is matched to its piece by the shortcode recorded at publication (`dstrtd export mark-published`), else by
its caption against the captions the social export wrote. Each post's row is committed as soon as it is read, so a
failure (login, 403/429, network, a changed format) loses nothing read before it; a second run skips the posts
read within the last hours and goes on where the first stopped.

Everything talks to a `PostSource`: `InstaloaderSource` wraps `instaloader.Profile`, `JsonPostSource` replays
instaloader's own JSON structures offline (tests, or a download made elsewhere).
"""

from __future__ import annotations

import difflib
import itertools
import json
import logging
import lzma
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from curation.catalog import Catalog
from installation.export.errors import EngagementError, ExportError

log = logging.getLogger(__name__)

PLATFORM = "instagram"
_SHORTCODE_RE = re.compile(r"^[A-Za-z0-9_-]{5,64}$")
_POST_URL_RE = re.compile(r"instagram\.com/(?:[^/]+/)?(?:p|reel|tv)/([A-Za-z0-9_-]+)")


# -- what a source gives ---------------------------------------------------------------------------------------------


class PostLike(Protocol):
    """The fields of `instaloader.Post` this module reads (any object with them will do)."""

    @property
    def shortcode(self) -> str: ...
    @property
    def caption(self) -> str | None: ...
    @property
    def likes(self) -> int: ...
    @property
    def comments(self) -> int: ...
    @property
    def date_utc(self) -> datetime: ...
    def get_comments(self) -> Iterable[Any]: ...


class PostSource(Protocol):
    """The profile's posts, newest first. Iterating may raise instaloader's exceptions (login, 403, 429, network)."""

    def posts(self) -> Iterator[PostLike]: ...


@dataclass(frozen=True)
class PostData:
    shortcode: str
    caption: str
    likes: int | None  # None where the owner hid the like count
    comments: int
    taken_at: str  # ISO 8601, UTC

    @property
    def url(self) -> str:
        return f"https://www.instagram.com/p/{self.shortcode}/"


def post_data(post: PostLike) -> PostData:
    """Read the fields we store; KeyError/TypeError/ValueError mean Instagram's answer no longer has them."""
    likes = post.likes
    taken = post.date_utc
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=UTC)
    return PostData(shortcode=str(post.shortcode), caption=post.caption or "",
                    likes=None if likes is None else int(likes), comments=int(post.comments or 0),
                    taken_at=taken.astimezone(UTC).isoformat(timespec="seconds"))


# -- sources ---------------------------------------------------------------------------------------------------------


class InstaloaderSource:
    """The posts of an Instagram profile through instaloader (logged in with a saved session if given).

    Make a session once with `instaloader --login YOUR_USER` (it prints where it saved the session file).
    """

    def __init__(self, profile: str, *, session_file: str | os.PathLike[str] | None = None, login: str | None = None,
                 max_attempts: int = 3, timeout_s: float = 60.0) -> None:
        self.profile = profile.strip().lstrip("@")
        self.session_file = Path(session_file).expanduser() if session_file else None
        self.login = login
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s

    def _loader(self) -> Any:
        import instaloader

        loader = instaloader.Instaloader(
            sleep=True, quiet=True, download_pictures=False, download_videos=False,
            download_video_thumbnails=False, download_geotags=False, download_comments=False, save_metadata=False,
            compress_json=False, max_connection_attempts=self.max_attempts, request_timeout=self.timeout_s)
        if self.session_file is not None:
            if not self.session_file.is_file():
                raise EngagementError(f"no session file at {self.session_file}; make one with "
                                      f"`instaloader --login {self.login or 'YOUR_USER'}`")
            loader.load_session_from_file(self.login or self.profile, str(self.session_file))
        return loader

    def posts(self) -> Iterator[PostLike]:
        import instaloader

        loader = self._loader()
        profile = instaloader.Profile.from_username(loader.context, self.profile)
        yield from profile.get_posts()


class _OfflineContext:
    """Stands in for `InstaloaderContext` when posts come from saved JSON: anything that would need Instagram
    raises instaloader's ConnectionException, as a failed request would. `is_logged_in` is True so that comments
    saved with a post can be read back (reading them live needs a login)."""

    is_logged_in = True
    iphone_support = False
    username: str | None = None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            from instaloader.exceptions import ConnectionException

            raise ConnectionException(f"offline source: reading this post needs Instagram ({name})")

        return refuse


class JsonPostSource:
    """Posts saved as instaloader JSON structures (`{"node": {...}, "instaloader": {"node_type": "Post"}}`): a file
    holding one structure or a list of them, or a folder of `*.json` / `*.json.xz` files as instaloader writes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _structures(self) -> list[dict[str, Any]]:
        if self.path.is_dir():
            files = sorted([*self.path.glob("*.json"), *self.path.glob("*.json.xz")])
        elif self.path.is_file():
            files = [self.path]
        else:
            raise EngagementError(f"no saved posts at {self.path}")
        structures: list[dict[str, Any]] = []
        for file in files:
            try:
                raw = lzma.decompress(file.read_bytes()) if file.suffix == ".xz" else file.read_bytes()
                data = json.loads(raw)
            except (OSError, ValueError, lzma.LZMAError) as exc:
                raise EngagementError(f"{file}: not an instaloader JSON file ({exc})") from None
            items = data if isinstance(data, list) else [data]
            structures += [s for s in items if isinstance(s, dict)
                           and (s.get("instaloader") or {}).get("node_type", "Post") == "Post"]
        return structures

    def posts(self) -> Iterator[PostLike]:
        import instaloader

        context = _OfflineContext()
        structures = self._structures()
        posts = [instaloader.load_structure(context, s) for s in structures]  # type: ignore[arg-type]
        posts.sort(key=lambda p: p.date_utc, reverse=True)  # newest first, as a profile
        yield from posts


def save_posts_json(posts: Iterable[Any], path: str | os.PathLike[str]) -> Path:
    """Save instaloader `Post`s as one JSON list `JsonPostSource` reads back (to replay a download offline)."""
    import instaloader

    from generator.common.files import write_json_atomic

    return write_json_atomic(path, [instaloader.get_json_structure(p) for p in posts])


# -- matching and storing --------------------------------------------------------------------------------------------


def normalize_caption(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def parse_shortcode(text: str) -> str:
    """A post's shortcode from itself or from its URL (`https://www.instagram.com/p/CODE/`)."""
    text = text.strip()
    m = _POST_URL_RE.search(text)
    code = m.group(1) if m else text.strip("/")
    if not _SHORTCODE_RE.match(code):
        raise ExportError(f"{text!r} is not an Instagram shortcode or post URL "
                          "(e.g. CxYz123AbC or https://www.instagram.com/p/CxYz123AbC/)")
    return code


def published_shortcodes(catalog: Catalog) -> dict[str, int]:
    """shortcode -> piece id, from the `instagram` exports (the latest record wins)."""
    return {e["external_id"]: e["piece_id"] for e in catalog.exports(kind=PLATFORM) if e["external_id"]}


def mark_published(catalog: Catalog, slug: str, shortcode_or_url: str) -> str:
    """Record that piece `slug` was published as the post `shortcode_or_url`; returns the shortcode."""
    piece = catalog.get_piece_by_slug(slug)
    if piece is None:
        raise ExportError(f"no piece with slug {slug!r} in {catalog.path} (see `dstrtd catalog list`)")
    code = parse_shortcode(shortcode_or_url)
    owner = published_shortcodes(catalog).get(code)
    if owner == piece.id:
        return code
    if owner is not None:
        other = catalog.get_piece(owner)
        raise ExportError(f"post {code} is already recorded for piece {other.slug if other else owner}")
    catalog.add_export(piece.id, PLATFORM, external_id=code,
                       details={"url": f"https://www.instagram.com/p/{code}/", "matched_by": "manual"})
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


def read_engagement(catalog: Catalog, source: PostSource, *, max_posts: int | None = None,
                    skip_recent_hours: float = 12.0, sleep_s: float = 2.0, comments: int = 0,
                    min_caption_ratio: float = 0.9, now: datetime | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    on_post: Callable[[str, str], None] | None = None) -> EngagementReport:
    """Read the source's posts (newest first, at most `max_posts`), match each to a piece, store its likes and
    comment count (and up to `comments` comment texts) with `Catalog.add_engagement`, one commit per post.

    Posts read within `skip_recent_hours` are skipped (resume). `sleep_s` seconds pass between posts that cost a
    request. Failures end the run with `report.error` set; they never undo what was stored. `on_post(shortcode,
    outcome)` is called after each post ("stored", "recent", "unmatched", "ambiguous", "failed").
    """
    from instaloader.exceptions import AbortDownloadException, InstaloaderException, LoginRequiredException

    report = EngagementReport()
    now = now or datetime.now(UTC)
    known = published_shortcodes(catalog)
    linked = set(known.values())
    captions = _CaptionIndex(catalog)
    recent = _recently_read(catalog, known.values(), now - timedelta(hours=skip_recent_hours))
    slugs: dict[int, str] = {}
    comment_texts_ok = comments > 0

    def slug_of(pid: int) -> str:
        if pid not in slugs:
            piece = catalog.get_piece(pid)
            slugs[pid] = piece.slug if piece else str(pid)
        return slugs[pid]

    def outcome(code: str, what: str) -> None:
        if on_post is not None:
            on_post(code, what)

    pause = False
    try:
        iterator = iter(source.posts())
        for count in itertools.count():
            if max_posts is not None and count >= max_posts:
                break
            if pause and sleep_s > 0:
                sleep(sleep_s)
            post = next(iterator, None)
            if post is None:
                break
            code = str(post.shortcode)
            pause = True
            if code in recent:
                report.skipped_recent.append(code)
                pause = False
                outcome(code, "recent")
                continue
            try:
                data = post_data(post)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                report.failed[code] = (f"its data lacks {exc!s} (Instagram's format may have changed; "
                                       "pip install -U instaloader)")
                log.warning("post %s: %s", code, report.failed[code])
                outcome(code, "failed")
                continue

            pid, how, similarity = known.get(code), "shortcode", 1.0
            if pid is None:
                ids, similarity = captions.candidates(data.caption, min_caption_ratio)
                free = [i for i in ids if i not in linked]
                if len(free) == 1:
                    pid, how = free[0], "caption"
                elif len(free) > 1:
                    report.ambiguous[code] = [slug_of(i) for i in free]
                    log.warning("post %s matches %d pieces by caption (%s); record it with `dstrtd export "
                                "mark-published SLUG %s`", code, len(free), ", ".join(report.ambiguous[code]), code)
                    outcome(code, "ambiguous")
                    continue
                else:
                    report.unmatched.append(code)
                    outcome(code, "unmatched")
                    continue
                catalog.add_export(pid, PLATFORM, external_id=code, details={
                    "url": data.url, "matched_by": "caption", "similarity": round(similarity, 4)})
                known[code] = pid
                linked.add(pid)

            details: dict[str, Any] = {"url": data.url, "taken_at": data.taken_at, "matched_by": how}
            if data.likes is None:
                details["likes_hidden"] = True
            if comment_texts_ok and data.comments > 0:
                try:
                    details["comment_texts"] = [str(c.text) for c in itertools.islice(post.get_comments(), comments)]
                except LoginRequiredException:
                    comment_texts_ok = False
                    log.warning("comment texts need a login (--session-file); storing counts only")
                except (KeyError, TypeError, AttributeError) as exc:
                    log.warning("post %s: cannot read its comments (%s)", code, exc)
            catalog.add_engagement(pid, PLATFORM, code, likes=data.likes or 0, comments=data.comments,
                                   details=details, fetched=now.isoformat(timespec="seconds"))
            report.stored.append((code, slug_of(pid), how))
            log.info("post %s -> %s (by %s): %s likes, %d comments", code, slug_of(pid), how,
                     "hidden" if data.likes is None else data.likes, data.comments)
            outcome(code, "stored")
    except (InstaloaderException, AbortDownloadException, EngagementError, OSError) as exc:
        # OSError covers requests' and urllib3's connection errors; stored rows stay stored
        report.error = describe_failure(exc)
        log.error("engagement read-back stopped: %s", report.error)
    return report


__all__: Sequence[str] = (
    "EngagementReport", "InstaloaderSource", "JsonPostSource", "PostData", "PostLike", "PostSource",
    "describe_failure", "mark_published", "parse_shortcode", "post_data", "read_engagement", "save_posts_json",
)
