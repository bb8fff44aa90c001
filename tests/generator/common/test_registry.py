"""generator.common.registry: a folder of JSON files is a registry; unknown names list the known ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.common.errors import DstrtdError, UnknownEntry
from generator.common.registry import JsonRegistry, read_json_object


def _registry(tmp_path: Path) -> JsonRegistry:
    (tmp_path / "b.json").write_text(json.dumps({"x": 2}))
    (tmp_path / "a.json").write_text(json.dumps({"x": 1}))
    (tmp_path / "notes.txt").write_text("not an entry")
    return JsonRegistry(tmp_path, "schedule")


def test_names_and_load(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    assert reg.names() == ["a", "b"]
    first = reg.load("a")
    first["x"] = 99
    assert reg.load("a") == {"x": 1}, "each load is a fresh dict"


@pytest.mark.parametrize("name", ["c", "", "../a", ".hidden", "notes"])
def test_unknown_names_list_the_known_ones(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnknownEntry, match=r"unknown schedule .*; known: a, b"):
        _registry(tmp_path).load(name)


def test_resolve_takes_a_name_or_a_path(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    own = tmp_path / "mine" / "custom.json"
    own.parent.mkdir()
    own.write_text('{"x": 3}')
    assert reg.resolve("b") == ("b", {"x": 2})
    assert reg.resolve(str(own)) == ("custom", {"x": 3})


@pytest.mark.parametrize("text, message", [("[1, 2]", "must hold a JSON object, not list"),
                                           ("{oops", "is not valid JSON")])
def test_bad_files_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(DstrtdError, match=message):
        read_json_object(tmp_path / "bad.json")
    with pytest.raises(DstrtdError, match="does not exist"):
        read_json_object(tmp_path / "missing.json")


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    assert reg.load("a") == {"x": 1}
    path = tmp_path / "a.json"
    path.write_text('{"x": 5}')
    stat = path.stat()
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert reg.load("a") == {"x": 5}
