"""The root of the trainers' errors."""

from __future__ import annotations

from generator.common.errors import DstrtdError


class TrainingError(DstrtdError):
    """Training data, a schedule, a config or a run folder the user can fix; the message says how."""


class ResumeRefused(TrainingError):
    """A checkpoint a run cannot continue from: unreadable, unsafe to unpickle, another trainer's, or saved with
    settings that differ; the message names each difference."""
