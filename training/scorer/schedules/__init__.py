"""Named training schedules of the aesthetic scorer (JSON files); data only."""
