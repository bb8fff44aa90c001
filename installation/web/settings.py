"""The web app's settings: one frozen dataclass, handed to `create_app` and to routes through `Depends`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from installation.errors import InstallationError

TOKEN_ENV = "DSTRTD_WEB_TOKEN"
API_MAX_LIMIT = 100  # why: one JSON page stays under ~100 kB
# why: the prefix is matched against request paths and written into every link, so only plain URL path characters
# (RFC 3986 pchar, percent-escapes included); anything else must be written percent-encoded
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")


class WebSettingsError(InstallationError):
    """A setting that cannot work; the message says which and how to fix it."""


def token_from_env(explicit: str | None = None) -> str | None:
    """The control token: `explicit`, else $DSTRTD_WEB_TOKEN, else None (control endpoints disabled)."""
    token = explicit if explicit is not None else os.environ.get(TOKEN_ENV)
    return token.strip() or None if token is not None else None


def root_path_of(base_url: str) -> str:
    """The path of `base_url` with no trailing slash: "" at the root of a host, "/dstrtd" for
    https://museum.example/dstrtd. Refuses a query, a fragment, empty or dot segments and characters a path cannot
    hold as they are."""
    parts = urlsplit(base_url)
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise WebSettingsError(f"base_url must not hold a query or a fragment, not {base_url!r}")
    path = parts.path.rstrip("/")
    for segment in path.split("/")[1:]:
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise WebSettingsError(f"base_url's path {parts.path!r} is not a plain sub-path such as /dstrtd (no empty "
                                   f"or dot segments; other characters percent-encoded)")
    return path


@dataclass(frozen=True)
class WebSettings:
    studio: Path
    # Where visitors reach the pages; share links, og:url and the QR codes use it. Its path is the sub-path the site
    # is published under behind a reverse proxy ("https://museum.example/dstrtd": every link starts with /dstrtd).
    base_url: str = "http://localhost:8000"
    token: str | None = field(default=None, repr=False)  # None: control endpoints answer 403
    catalog: str | None = field(default=None, repr=False)  # a catalog server's URL (may hold a password); None: SQLite
    max_body_bytes: int = 64 * 1024  # why: control requests are a few hundred bytes; more is a mistake or an attack
    page_size: int = 24  # why: a multiple of 2, 3 and 4, so the index grid's rows are full on phone and desktop

    def __post_init__(self) -> None:
        object.__setattr__(self, "studio", Path(self.studio))
        base = self.base_url.rstrip("/")
        if not base.startswith(("http://", "https://")) or any(c.isspace() for c in base):
            raise WebSettingsError(f"base_url must be an http:// or https:// address without spaces, not {base!r}")
        object.__setattr__(self, "base_url", base)
        root_path_of(base)
        if self.token is not None and not self.token.strip():
            object.__setattr__(self, "token", None)
        if self.max_body_bytes < 1024:
            raise WebSettingsError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
        if not 1 <= self.page_size <= API_MAX_LIMIT:
            raise WebSettingsError(f"page_size must be between 1 and {API_MAX_LIMIT}, not {self.page_size}")

    @property
    def control_enabled(self) -> bool:
        return self.token is not None

    @property
    def root_path(self) -> str:
        """The path of `base_url`: "" at the root of a host, else e.g. "/dstrtd" (no trailing slash)."""
        return root_path_of(self.base_url)

    def href(self, path: str) -> str:
        """The link to the site's own `path` ("/p/<slug>") as visitors must follow it: "/dstrtd/p/<slug>"."""
        return self.root_path + path
