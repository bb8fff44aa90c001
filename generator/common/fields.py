"""Config dataclasses read from mappings and described for the command line, from one place: their fields.

`setting(default, "help")` declares a field with its help text; the CLI derives each option's name, type, choices
(`Literal` or `StrEnum`), default and help from the field, so `--help` cannot drift from the config. `known_keys`
refuses a mapping with a key that is no field: a typo must never be silently ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from generator.common.errors import DstrtdError

_MISSING: Any = dataclasses.MISSING


def setting(default: Any = _MISSING, help: str = "", *, default_factory: Callable[[], Any] | None = None,  # noqa: A002
            metavar: str | tuple[str, ...] | None = None, parse: Callable[[str], Any] | None = None,
            show: str | None = None, cli: bool = True) -> Any:
    """A dataclass field with what the command line shows for it.

    `parse` turns the option's text into the value (for sizes, colours); `show` is how `--help` prints the default
    when its repr is not what a user types; `cli=False` keeps the field off the command line.
    """
    metadata = {"help": help, "metavar": metavar, "parse": parse, "show": show, "cli": cli}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def known_keys(data: Mapping[str, Any], known: type | Iterable[str], error: type[Exception] = DstrtdError,
               what: str = "keys", where: str = "") -> dict[str, Any]:
    """A copy of `data` once each key is one of `known` (a dataclass's fields, or names); else `error` with one line
    naming the unknown keys, where they were found, and the known ones: "unknown head config keys colour in x.json;
    known: dropout, hidden"."""
    names = {f.name for f in dataclasses.fields(known)} if isinstance(known, type) else set(known)
    unknown = sorted(set(data) - names)
    if unknown:
        place = f" in {where}" if where else ""
        raise error(f"unknown {what} {', '.join(map(str, unknown))}{place}; known: {', '.join(sorted(names))}")
    return dict(data)
