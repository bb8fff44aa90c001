"""Command-line options derived from a config dataclass: one option per field, same name, same default.

A field declared with `generator.common.fields.setting(default, "help")` becomes `--field-name` (the spelling with
underscores is accepted too): its type gives the parser (`int`, `float`, `str`, `Path`, `bool` as --x/--no-x,
`tuple[...]` as several values), `Literal[...]` and `StrEnum` give the choices, and `--help` shows the dataclass's
default. Every option's parser default is None, so `config_from_args` overrides only what the user typed.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _choices(hint: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return tuple(m.value for m in hint)
    return None


def _show_default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple | list):
        return " ".join(_show_default(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def field_default(f: dataclasses.Field[Any]) -> Any:
    """The default of a dataclass field (calling its factory), or dataclasses.MISSING."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def option_kwargs(cls: type, f: dataclasses.Field[Any], hint: Any) -> dict[str, Any]:
    """The `add_argument` keywords for one field (without the flags)."""
    meta = f.metadata
    inner, _ = _unwrap_optional(hint)
    default = field_default(f)
    shown = meta.get("show") or ("required" if default is dataclasses.MISSING else _show_default(default))
    help_text = (meta.get("help") or "").rstrip()
    kwargs: dict[str, Any] = {"default": None, "dest": f.name}
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    parse: Callable[[str], Any] | None = meta.get("parse")
    choices = _choices(inner)
    if inner is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif parse is not None:
        kwargs["type"] = parse
    elif typing.get_origin(inner) in (tuple, list):
        args = typing.get_args(inner)
        element = args[0] if args else str
        variadic = typing.get_origin(inner) is list or (len(args) == 2 and args[1] is Ellipsis)
        element_choices = _choices(element)
        if element_choices is not None:
            kwargs["choices"] = element_choices
        elif element in (int, float):
            kwargs["type"] = element
        kwargs["nargs"] = "*" if variadic else len(args)
    elif choices is not None:
        kwargs["choices"] = choices
        kinds = {type(c) for c in choices}
        if kinds == {int}:
            kwargs["type"] = int
    elif inner in (int, float):
        kwargs["type"] = inner
    elif inner is Path:
        kwargs["type"] = Path
    kwargs["help"] = f"{help_text} (default: {shown})" if help_text else f"default: {shown}"
    return kwargs


def add_config_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, *,
                       only: Collection[str] | None = None, exclude: Collection[str] = (),
                       groups: Mapping[str, argparse._ArgumentGroup] | None = None) -> list[str]:
    """Add one option per CLI field of the dataclass `cls` (in field order); returns the field names added.

    `groups` maps field names to argument groups, for a `--help` in sections.
    """
    hints = typing.get_type_hints(cls)
    added = []
    for f in dataclasses.fields(cls):
        if not f.init or not f.metadata.get("cli", True) or f.name in exclude:
            continue
        if only is not None and f.name not in only:
            continue
        flags = [f"--{f.name.replace('_', '-')}"]
        if "_" in f.name:
            flags.append(f"--{f.name}")
        target = (groups or {}).get(f.name, parser)
        target.add_argument(*flags, **option_kwargs(cls, f, hints[f.name]))
        added.append(f.name)
    return added


def given_options(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of `cls` the user set on the command line (tuples for several values)."""
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            out[f.name] = tuple(value) if isinstance(value, list) else value
    return out


def config_from_args(cls: type[T], args: argparse.Namespace, base: T | None = None, **extra: Any) -> T:
    """`cls` built from the options given (and `extra`), on top of `base` when there is one."""
    values = given_options(cls, args) | extra
    if base is not None:
        return dataclasses.replace(base, **values)  # type: ignore[type-var]
    return cls(**values)
