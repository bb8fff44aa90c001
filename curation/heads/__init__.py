"""Registry of public aesthetic heads (registry.json); data only."""
