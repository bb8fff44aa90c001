"""The generator's errors: bad input or a missing resource; each message names the problem and the fix."""

from __future__ import annotations

from generator.common.errors import DstrtdError


class GeneratorError(DstrtdError):
    """Bad input or a missing resource; the message names the problem and the fix."""


class NonFiniteLoss(GeneratorError):
    """The loss became NaN or infinite (the studio restarts the job with a new seed)."""


class WeightsUnavailable(GeneratorError):
    """A weights file is absent and could not be downloaded; the message says which file to place where."""


class UnsafeCheckpoint(GeneratorError):
    """A checkpoint holds Python objects outside our allow-list, so it is not unpickled."""


class CorruptCheckpoint(GeneratorError):
    """A weights file that is no readable checkpoint at all: random bytes, an error page, a partial download."""
