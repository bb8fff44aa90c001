"""Errors of the engagement read-back: each message says what was wrong and how to fix it."""

from __future__ import annotations

from installation.errors import InstallationError


class EngagementError(InstallationError):
    """Reading engagement back or rating the audience failed; what was read before the failure is already stored."""
