"""The web -> display channel: commands taken once, oldest first, by their target; an empty poll writes nothing."""

from __future__ import annotations

from pathlib import Path

from curation.catalog import Catalog


def test_commands_are_taken_once_by_their_target(tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        for _ in range(3):
            assert cat.take_commands("display") == []
        cat.post_command("display", "pause")
        cat.post_command("studio", "stop")
        cat.post_command("display", "goto", {"slug": "a"})
        assert cat.take_commands("display") == [("pause", {}), ("goto", {"slug": "a"})]
        assert cat.take_commands("display") == []
        assert cat.take_commands("studio") == [("stop", {})]


def test_an_empty_command_poll_writes_nothing(tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        changes = cat._db.execute("SELECT total_changes()").fetchone()[0]
        for _ in range(3):
            assert cat.take_commands("display") == []
        assert cat._db.execute("SELECT total_changes()").fetchone()[0] == changes
