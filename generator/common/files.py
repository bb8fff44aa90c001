"""Files that appear whole or not at all, checksums and cross-process locks.

Every write goes to a hidden temporary name in the destination's folder (unique per call, so two processes writing
one folder never collide), is flushed and fsynced, then renamed over the destination, and the folder is fsynced so
the rename survives a power cut. On any failure the temporary file is removed and the old file stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.common.errors import DstrtdError, LockTimeout

PathLike = str | os.PathLike[str]


def temporary_sibling(dest: PathLike) -> Path:
    """A unique hidden name beside `dest` that keeps its suffix (numpy, torch and Pillow choose formats by it)."""
    dest = Path(dest)
    return dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:12]}.tmp{dest.suffix}")


def fsync_dir(folder: PathLike) -> None:
    """Make a rename inside `folder` durable (POSIX; a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def replace_file(src: PathLike, dest: PathLike) -> Path:
    """Move the finished file `src` over `dest` (same filesystem): fsync it, rename, fsync the folder."""
    src, dest = Path(src), Path(dest)
    _fsync_file(src)
    os.replace(src, dest)
    fsync_dir(dest.parent)
    return dest


def move_dir(src: PathLike, dest: PathLike) -> Path:
    """Rename the folder `src` to `dest`, which must not exist (FileExistsError otherwise), and fsync the parent."""
    src, dest = Path(src), Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} exists already")
    os.rename(src, dest)
    fsync_dir(dest.parent)
    return dest


@contextlib.contextmanager
def atomic_path(dest: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `dest` to write; when the block ends without error it becomes `dest`.

    For writers that take a path (numpy, torch, Pillow, a PNG encoder): `with atomic_path(p) as tmp: save(tmp)`.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(dest)
    try:
        yield tmp
        replace_file(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes_atomic(dest: PathLike, data: bytes) -> Path:
    """Write `data` to `dest` so that readers see the old file or the new one, never a part."""
    with atomic_path(dest) as tmp, open(tmp, "xb") as f:  # not mkstemp: its 0600 files are not meant to be shared
        f.write(data)
    return Path(dest)


def read_text(path: PathLike, what: str, error: type[DstrtdError] = DstrtdError) -> str:
    """The text of a file people write by hand (ratings, captions, themes): UTF-8, a leading BOM dropped (as
    spreadsheets write it). Any other encoding raises `error` with one line naming the file, where the first bad
    byte is, and the fix, instead of a UnicodeDecodeError."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}, column {column}); "
                    "save it as UTF-8 (spreadsheets: 'CSV UTF-8')") from None


def write_text_atomic(dest: PathLike, text: str) -> Path:
    return write_bytes_atomic(dest, text.encode("utf-8"))


def write_json_atomic(dest: PathLike, value: Any, *, indent: int | None = 2) -> Path:
    """`value` as JSON (sorted keys, non-JSON values through `str`) with a final newline."""
    return write_text_atomic(dest, json.dumps(value, indent=indent, sort_keys=True, default=str) + "\n")


def sha256_file(path: PathLike) -> str:
    """The hex sha256 of a file's bytes, read in chunks (any size)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@contextlib.contextmanager
def file_lock(path: PathLike, *, timeout: float | None = None, what: str = "") -> Iterator[None]:
    """Hold an exclusive lock on the file `path` for the block, across processes and platforms.

    The operating system releases it when the holder dies, so a killed process never leaves it stuck. `timeout`
    None waits as long as it takes; otherwise `LockTimeout` says who to look for.
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=-1 if timeout is None else timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(f"{what or path} is locked by another process (waited {timeout:g} s for {path}); "
                          "wait for it to finish or stop it") from None
    try:
        yield
    finally:
        lock.release()
