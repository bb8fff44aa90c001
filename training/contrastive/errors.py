"""Errors of contrastive training a user can fix; the CLI prints the message and exits with `exit_code`."""

from __future__ import annotations

from training.errors import TrainingError


class ContrastiveError(TrainingError):
    """Bad settings or input for contrastive training; the message says what to change."""


class CaptionsDataError(ContrastiveError):
    """An image-text manifest that cannot be used (no usable rows, unknown columns, unreadable format)."""


class NonFiniteTrainingLoss(ContrastiveError):
    """The training loss became NaN or infinite (lower the learning rate, raise the temperature, or clip)."""
