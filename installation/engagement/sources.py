"""Where the posts come from: a `PostSource` gives a profile's posts, newest first.

`InstaloaderSource` wraps `instaloader.Profile` (logged in with a saved session if given); `JsonPostSource` replays
instaloader's own JSON structures offline (tests, or a download made elsewhere). instaloader is imported only when a
source is read, so importing this module stays light.
"""

from __future__ import annotations

import json
import lzma
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from generator.common.files import write_json_atomic
from installation.engagement.errors import EngagementError


def post_url(shortcode: str) -> str:
    """The address of an Instagram post."""
    return f"https://www.instagram.com/p/{shortcode}/"


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
        return post_url(self.shortcode)


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


    return write_json_atomic(path, [instaloader.get_json_structure(p) for p in posts])


__all__ = ["InstaloaderSource", "JsonPostSource", "PostData", "PostLike", "PostSource", "post_data", "post_url",
           "save_posts_json"]
