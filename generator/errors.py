"""Errors the user can act on. Each carries `exit_code` so the CLI prints one line instead of a traceback."""

from __future__ import annotations


class GeneratorError(Exception):
    """Bad input or a missing resource; the message names the problem and the fix."""

    exit_code = 2


class NonFiniteLoss(GeneratorError):
    """The loss became NaN or infinite (the studio restarts the job with a new seed)."""


class WeightsUnavailable(GeneratorError):
    """A weights file is absent and could not be downloaded; the message says which file to place where."""


class UnsafeCheckpoint(GeneratorError):
    """A checkpoint holds Python objects outside our allow-list, so it is not unpickled."""
