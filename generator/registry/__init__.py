"""Named configs: each folder here is a registry (`generator.common.registry.JsonRegistry`), each JSON file in it one
entry (its stem is the name).

`vqgan/` VQGAN architectures, `presets/` named VQGAN + perceptor combinations, `weights/` downloadable files,
`clip/` CLIP architectures in open_clip's own model-config format (`tiny`), which `generator.perceptors` adds to
open_clip's registry so that every part builds them by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.common.registry import JsonRegistry

ROOT = Path(__file__).resolve().parent
LABELS = {"vqgan": "VQGAN config", "presets": "preset", "weights": "weights", "clip": "CLIP model config"}


def folder(kind: str) -> JsonRegistry:
    """The registry of one folder ("vqgan", "presets", "weights" or "clip")."""
    if kind not in LABELS:
        raise ValueError(f"registry kind must be one of {', '.join(LABELS)}, not {kind!r}")
    return JsonRegistry(ROOT / kind, LABELS[kind])


def names(kind: str) -> list[str]:
    """Sorted entry names of one registry folder."""
    return folder(kind).names()


def entry(kind: str, name: str) -> dict[str, Any]:
    """One entry as a fresh dict; unknown names raise `UnknownEntry` with the list of known ones."""
    return folder(kind).load(name)
