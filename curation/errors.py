"""The root of the curators' and the catalog's errors (torch-free: the gallery machine imports it)."""

from __future__ import annotations

from generator.common.errors import DstrtdError


class CurationError(DstrtdError):
    """A curator, a selection policy or the catalog was asked something it cannot do; the message says why."""
