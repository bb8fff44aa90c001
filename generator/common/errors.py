"""The one root of every error a user can act on; each package derives its own from it.

The CLI catches `DstrtdError`, prints its message on one line and exits with its `exit_code`; anything else is a bug
and says "unexpected error". Messages name the problem and the fix.
"""

from __future__ import annotations


class DstrtdError(Exception):
    """A problem the user can fix (bad input, a missing file, a busy resource); the message says what to do."""

    exit_code = 2


class UnreadableImage(DstrtdError):
    """An image that cannot be decoded or is refused (missing, empty, too large, corrupt); one-line reason."""


class UnknownEntry(DstrtdError):
    """A name that no registry folder holds; the message lists the known ones."""


class LockTimeout(DstrtdError):
    """A file lock that another process held for longer than we were willing to wait."""


class DeviceUnavailable(DstrtdError):
    """A compute device that was asked for but is not there (no CUDA GPU, no MPS)."""


class PromptError(DstrtdError):
    """A prompt that does not follow `text[:weight[:stop]]` (an empty text, a weight or stop that is no number)."""
