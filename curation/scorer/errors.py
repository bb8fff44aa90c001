"""The scorer's errors: specs, checkpoints and head files that cannot be used, and weights that are not here."""

from __future__ import annotations

from curation.errors import CurationError


class ScorerError(CurationError):
    """A scorer spec, checkpoint or head file that cannot be used; the message says why and what to do."""


class ScorerWeightsUnavailable(ScorerError):
    """Weights that are neither in the cache nor downloadable here (offline, or the file is wrong)."""
