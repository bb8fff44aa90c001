"""The resume file: where the slideshow was, written atomically so a power cut leaves the old or the new one."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from generator.common.files import write_json_atomic

log = logging.getLogger(__name__)

STATE_NAME = "gallery-state.json"


def load_state(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The saved state, or None when there is none or it cannot be read (logged; the show starts fresh)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("resume file %s is unreadable (%s); starting from the beginning", path, exc)
        return None
    if not isinstance(data, dict):
        log.warning("resume file %s does not hold an object; starting from the beginning", path)
        return None
    return data


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> bool:
    """Write `state` as JSON atomically (`write_json_atomic`); False (logged) when the disk refuses."""
    try:
        write_json_atomic(path, state, indent=1)
    except OSError as exc:
        log.warning("cannot write the resume file %s (%s)", path, exc)
        return False
    return True
