"""Errors a user can fix; the CLI prints the message and exits with `exit_code`."""

from __future__ import annotations


class ContrastiveError(Exception):
    """Bad settings or input for contrastive training; the message says what to change."""

    exit_code = 2


class DataError(ContrastiveError):
    """An image-text manifest that cannot be used (no usable rows, unknown columns, unreadable format)."""


class NonFiniteLoss(ContrastiveError):
    """The training loss became NaN or infinite (lower the learning rate, raise the temperature, or clip)."""
