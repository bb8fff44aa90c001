"""The root of the errors of what runs for the public: the CLI, the worker, the gallery, the web and the exports.

Torch-free: the display-only install imports it.
"""

from __future__ import annotations

from generator.common.errors import DstrtdError


class InstallationError(DstrtdError):
    """A setting, a command or a file the user can fix; the CLI prints the message on one line."""


class CommandError(InstallationError):
    """A command-line usage problem: options that do not fit together, a value out of range."""
