"""Reading config dataclasses from JSON-like mappings: every key must be a field (a typo must never be ignored)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any


def known_keys(data: Mapping[str, Any], known: type | Iterable[str], error: type[Exception], what: str,
               where: str = "") -> dict[str, Any]:
    """A copy of `data` once each key is one of `known` (a dataclass's fields, or names); else `error` with one line
    naming the unknown keys, where they were found, and the known ones: "unknown head config keys colour in x.json;
    known: dropout, hidden"."""
    names = {f.name for f in fields(known)} if isinstance(known, type) else set(known)
    unknown = sorted(set(data) - names)
    if unknown:
        place = f" in {where}" if where else ""
        raise error(f"unknown {what} {', '.join(map(str, unknown))}{place}; known: {', '.join(sorted(names))}")
    return dict(data)
