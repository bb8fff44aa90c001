"""The engagement tests read back posts of pieces made as the export tests make them (their social posts are what
captions are matched against)."""

from __future__ import annotations

from ..export.conftest import add_piece, catalog  # noqa: F401  (fixtures)
