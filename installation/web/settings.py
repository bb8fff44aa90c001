"""The web app's settings: one frozen dataclass, handed to `create_app` and to routes through `Depends`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from curation.public import BaseUrlError, base_url_path, check_base_url
from installation.errors import InstallationError
from installation.web.proxies import TrustedProxies, parse_networks

TOKEN_ENV = "DSTRTD_WEB_TOKEN"
API_MAX_LIMIT = 100  # why: one JSON page stays under ~100 kB


class WebSettingsError(InstallationError):
    """A setting that cannot work; the message says which and how to fix it."""


def token_from_env(explicit: str | None = None) -> str | None:
    """The control token: `explicit`, else $DSTRTD_WEB_TOKEN, else None (control endpoints disabled)."""
    token = explicit if explicit is not None else os.environ.get(TOKEN_ENV)
    return token.strip() or None if token is not None else None


def root_path_of(base_url: str) -> str:
    """The path of `base_url` with no trailing slash ("" at the root of a host, "/dstrtd"), or `WebSettingsError`."""
    try:
        return base_url_path(base_url)
    except BaseUrlError as exc:
        raise WebSettingsError(str(exc)) from None


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
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks: "127.0.0.1", "10.0.0.0/8"); none by
    # default, because anyone can send the header and it decides whom the login throttle holds back.
    trusted_proxies: tuple[str, ...] = ()
    # Larger images get no thumbnail (a 404), refused from the file's header before anything is decoded, as the
    # gallery refuses them (its max_pixels); why 40 Mpx: any generated piece and almost any camera photo fits, and
    # three thumbnails decoding at once stay near half a gigabyte
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "studio", Path(self.studio))
        try:
            object.__setattr__(self, "base_url", check_base_url(self.base_url))
        except BaseUrlError as exc:
            raise WebSettingsError(str(exc)) from None
        if self.token is not None and not self.token.strip():
            object.__setattr__(self, "token", None)
        if self.max_body_bytes < 1024:
            raise WebSettingsError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        self.proxies  # noqa: B018 - refuses a malformed address now, not at the first request
        if self.max_pixels < 1:
            raise WebSettingsError(f"max_pixels must be at least 1, not {self.max_pixels}")
        if not 1 <= self.page_size <= API_MAX_LIMIT:
            raise WebSettingsError(f"page_size must be between 1 and {API_MAX_LIMIT}, not {self.page_size}")

    @property
    def control_enabled(self) -> bool:
        return self.token is not None

    @property
    def proxies(self) -> TrustedProxies:
        try:
            return TrustedProxies(parse_networks(self.trusted_proxies))
        except ValueError as exc:
            raise WebSettingsError(f"{exc}; give --trusted-proxies the address of your reverse proxy") from None

    @property
    def root_path(self) -> str:
        """The path of `base_url`: "" at the root of a host, else e.g. "/dstrtd" (no trailing slash)."""
        return root_path_of(self.base_url)

    def href(self, path: str) -> str:
        """The link to the site's own `path` ("/p/<slug>") as visitors must follow it: "/dstrtd/p/<slug>"."""
        return self.root_path + path
