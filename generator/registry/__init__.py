"""Named configs: each folder here is a registry, each JSON file in it one entry (its stem is the name).

`vqgan/` VQGAN architectures, `presets/` named VQGAN + perceptor combinations, `weights/` downloadable files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from generator.errors import GeneratorError

ROOT = Path(__file__).resolve().parent
KINDS = ("vqgan", "presets", "weights")


def names(kind: str) -> list[str]:
    """Sorted entry names of one registry folder."""
    return sorted(p.stem for p in _folder(kind).glob("*.json"))


def entry(kind: str, name: str) -> dict[str, Any]:
    """One entry as a fresh dict; unknown names raise with the list of known ones."""
    path = _folder(kind) / f"{name}.json"
    if "/" in name or "\\" in name or not path.is_file():
        label = {"vqgan": "VQGAN config", "presets": "preset", "weights": "weights"}[kind]
        raise GeneratorError(f"unknown {label} {name!r}; known: {', '.join(names(kind))}")
    return json.loads(_read(path))


def _folder(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"registry kind must be one of {KINDS}, not {kind!r}")
    return ROOT / kind


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
