"""The web app's settings: one frozen dataclass, handed to `create_app` and to routes through `Depends`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_ENV = "DSTRTD_WEB_TOKEN"
API_MAX_LIMIT = 100  # why: one JSON page stays under ~100 kB


class WebSettingsError(ValueError):
    """A setting that cannot work; the message says which and how to fix it."""

    exit_code = 2


def token_from_env(explicit: str | None = None) -> str | None:
    """The control token: `explicit`, else $DSTRTD_WEB_TOKEN, else None (control endpoints disabled)."""
    token = explicit if explicit is not None else os.environ.get(TOKEN_ENV)
    return token.strip() or None if token is not None else None


@dataclass(frozen=True)
class WebSettings:
    studio: Path
    base_url: str = "http://localhost:8000"  # where visitors reach the pages; share links and og:url use it
    token: str | None = field(default=None, repr=False)  # None: control endpoints answer 403
    max_body_bytes: int = 64 * 1024  # why: control requests are a few hundred bytes; more is a mistake or an attack
    page_size: int = 24  # why: a multiple of 2, 3 and 4, so the index grid's rows are full on phone and desktop

    def __post_init__(self) -> None:
        object.__setattr__(self, "studio", Path(self.studio))
        base = self.base_url.rstrip("/")
        if not base.startswith(("http://", "https://")) or any(c.isspace() for c in base):
            raise WebSettingsError(f"base_url must be an http:// or https:// address without spaces, not {base!r}")
        object.__setattr__(self, "base_url", base)
        if self.token is not None and not self.token.strip():
            object.__setattr__(self, "token", None)
        if self.max_body_bytes < 1024:
            raise WebSettingsError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
        if not 1 <= self.page_size <= API_MAX_LIMIT:
            raise WebSettingsError(f"page_size must be between 1 and {API_MAX_LIMIT}, not {self.page_size}")

    @property
    def control_enabled(self) -> bool:
        return self.token is not None
