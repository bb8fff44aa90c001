"""The resume file."""

from __future__ import annotations

import os

from installation.gallery.state import load_state, save_state


def test_round_trip_and_no_temporary_left(tmp_path):
    path = tmp_path / "gallery-state.json"
    assert load_state(path) is None
    assert save_state(path, {"version": 1, "current": "a"})
    assert load_state(path) == {"version": 1, "current": "a"}
    assert os.listdir(tmp_path) == ["gallery-state.json"]


def test_corrupt_file_starts_fresh(tmp_path, caplog):
    path = tmp_path / "gallery-state.json"
    path.write_text("{half a file")
    assert load_state(path) is None
    assert "unreadable" in caplog.text
    path.write_text("[1, 2]")
    assert load_state(path) is None


def test_unwritable_place_is_logged_not_raised(tmp_path, caplog):
    (tmp_path / "a-file").write_text("not a folder")
    assert not save_state(tmp_path / "a-file" / "state.json", {"a": 1})
    assert "cannot write the resume file" in caplog.text
