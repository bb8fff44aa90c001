"""Atomic file writes: a temporary file beside the destination, fsynced, then renamed over it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(dest: Path, data: bytes) -> Path:
    """Write `data` to `dest` so that readers see the old file or the new one, never a part (usual permissions)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as f:  # not mkstemp: its files are private (0600), pieces are meant to be shared
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
