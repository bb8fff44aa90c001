"""The resume file: where the slideshow was, written atomically so a power cut leaves the old or the new one."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

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
    """Write `state` as JSON via a temporary file, fsync and rename; False (logged) when the disk refuses."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("cannot write the resume file %s (%s)", path, exc)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False
