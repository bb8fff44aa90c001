"""generator.common.files: whole files or none, unique temporary names, checksums, cross-process locks."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from generator.common.errors import LockTimeout
from generator.common.files import (
    atomic_path,
    file_lock,
    move_dir,
    sha256_file,
    temporary_sibling,
    write_bytes_atomic,
    write_json_atomic,
)


def test_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "a.json"
    write_json_atomic(dest, {"b": 1, "a": 2})
    assert dest.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    write_bytes_atomic(dest, b"new")
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "a.txt"
    dest.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk on fire")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_temporary_names_are_unique_hidden_and_keep_the_suffix(tmp_path: Path) -> None:
    names = {temporary_sibling(tmp_path / "x.npy").name for _ in range(200)}
    assert len(names) == 200
    assert all(n.startswith(".x.") and n.endswith(".npy") for n in names)


def _writer(dest: str, value: bytes, n: int) -> None:
    for _ in range(n):
        write_bytes_atomic(dest, value * 1000)


def test_two_processes_writing_one_file_never_leave_a_mixture(tmp_path: Path) -> None:
    dest = tmp_path / "shared.bin"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(dest), v, 60)) for v in (b"a", b"b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert dest.read_bytes() in (b"a" * 1000, b"b" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.bin"]


def test_move_dir_refuses_an_existing_destination(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dest").mkdir()
    with pytest.raises(FileExistsError):
        move_dir(tmp_path / "src", tmp_path / "dest")
    move_dir(tmp_path / "src", tmp_path / "other")
    assert (tmp_path / "other").is_dir() and not (tmp_path / "src").exists()


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def _hold(path: str, seconds: float, ready: str) -> None:
    with file_lock(path):
        Path(ready).touch()
        time.sleep(seconds)


def test_file_lock_excludes_another_process_and_times_out_with_a_message(tmp_path: Path) -> None:
    lock, ready = tmp_path / "x.lock", tmp_path / "ready"
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(str(lock), 3.0, str(ready)))
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)
        with pytest.raises(LockTimeout, match=r"the scorer cache is locked by another process \(waited 0.2 s"):
            with file_lock(lock, timeout=0.2, what="the scorer cache"):
                pass
    finally:
        holder.join(30)
    with file_lock(lock, timeout=1):  # released when the holder finished
        pass


def test_file_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    lock, ready = tmp_path / "x.lock", tmp_path / "ready"
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(str(lock), 60.0, str(ready)))
    holder.start()
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    holder.kill()
    holder.join(30)
    with file_lock(lock, timeout=5):
        pass


def test_read_text_drops_a_bom_and_names_the_first_byte_that_is_not_utf8(tmp_path: Path) -> None:
    from generator.common.errors import DstrtdError
    from generator.common.files import read_text

    (tmp_path / "bom.csv").write_bytes("\ufeffimage,score\n".encode())
    assert read_text(tmp_path / "bom.csv", "ratings file") == "image,score\n"
    (tmp_path / "latin.csv").write_bytes("image,score\ncafé.png,5\n".encode("latin-1"))
    with pytest.raises(DstrtdError, match=r"ratings file .*latin.csv is not UTF-8 text \(byte 0xe9 on line 2, "
                                          r"column 4\); save it as UTF-8"):
        read_text(tmp_path / "latin.csv", "ratings file")
