"""Errors of the export part: each message says what was wrong and how to fix it."""

from __future__ import annotations

from installation.errors import InstallationError


class ExportError(InstallationError):
    """A problem the user can fix (bad size, missing file, caption too long); the CLI prints it on one line."""


class CaptionError(ExportError):
    """A social post caption that breaks Instagram's limits; the message names the theme."""

