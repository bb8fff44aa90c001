"""Named configs kept as JSON files in a folder: the folder is the registry, each file's stem an entry's name.

Used for VQGAN architectures, presets, downloadable weights, scorer schedules and contrastive run and model configs.
A name that no file holds raises `UnknownEntry` listing the known ones; a value that looks like a path to a JSON file
is read from there instead, so every option that takes a name also takes the artist's own file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from generator.common.errors import DstrtdError, UnknownEntry


@cache
def _read(path: Path, mtime_ns: int) -> str:
    return path.read_text(encoding="utf-8")


def read_json_object(path: str | os.PathLike[str], what: str = "config") -> dict[str, Any]:
    """A JSON file that must hold one object; any problem is a `DstrtdError` naming the file."""
    path = Path(path)
    try:
        text = _read(path.resolve(), path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise DstrtdError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DstrtdError(f"{what} file {path} cannot be read ({exc})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DstrtdError(f"{what} file {path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise DstrtdError(f"{what} file {path} must hold a JSON object, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class JsonRegistry:
    """One folder of named JSON entries. `label` names an entry in messages ("VQGAN config", "schedule")."""

    folder: Path
    label: str

    def names(self) -> list[str]:
        """Sorted entry names."""
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def path(self, name: str) -> Path:
        """The file of entry `name`; `UnknownEntry` with the known names when there is none."""
        path = self.folder / f"{name}.json"
        if not name or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
            raise UnknownEntry(f"unknown {self.label} {name!r}; known: {', '.join(self.names()) or 'none'}")
        return path

    def load(self, name: str) -> dict[str, Any]:
        """Entry `name` as a fresh dict."""
        return read_json_object(self.path(name), self.label)

    def resolve(self, name_or_path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
        """(name, entry) for a registered name, or for a path to a JSON file (its stem is the name)."""
        text = os.fspath(name_or_path)
        if text.endswith(".json") or "/" in text or "\\" in text:
            return Path(text).stem, read_json_object(text, self.label)
        return text, self.load(text)
