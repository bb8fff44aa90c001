"""The registry of public aesthetic heads (registry.json, read by `curation.scorer.public`); data only."""
