"""`dstrtd catalog reflection`: the artist's words on one piece, from the command line or a file, shown by `show`
and `list --json`, cleared with ""."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from installation.cli import main


def _piece(studio, tmp_path: Path) -> str:
    image = tmp_path / "a.png"
    Image.new("RGB", (16, 16), (40, 90, 200)).save(image)
    with studio.catalog() as cat:
        return cat.add_piece({"image.png": image}, prompt="a reef:1", theme="coral-reef").slug


def test_reflection_from_the_command_line_shows_and_clears(studio, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    a = _piece(studio, tmp_path)
    root = str(studio.root)
    assert main(["catalog", "show", a, "--studio", root]) == 0
    out = capsys.readouterr().out
    assert "  reflection (the theme's)" in out and "This is what a coral reef looks like" in out

    assert main(["catalog", "reflection", a, "Bleached  at noon;\n the fish\n\nhave left.", "--studio", root]) == 0
    assert capsys.readouterr().out.strip() == f"{a}: reflection set (38 characters, 2 paragraph(s))"
    assert main(["catalog", "show", a, "--studio", root]) == 0
    out = capsys.readouterr().out
    assert "  reflection\n    Bleached at noon; the fish\n\n    have left.\n" in out
    assert "(the theme's)" not in out
    assert main(["catalog", "list", "--json", "--studio", root]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["reflection"] == "Bleached at noon; the fish\n\nhave left."
    assert main(["catalog", "show", a, "--json", "--studio", root]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reflection"] == row["reflection"] and shown["theme_reflection"].startswith("This is what")

    assert main(["catalog", "reflection", a, "x" * 601, "--studio", root]) == 2
    assert "at most 600 characters" in capsys.readouterr().err
    assert main(["catalog", "reflection", a, "", "--studio", root]) == 0
    assert "reflection cleared (the theme's is shown)" in capsys.readouterr().out
    with studio.catalog() as cat:
        assert cat.get_piece_by_slug(a).reflection == ""


def test_reflection_from_a_file_and_bad_asks(studio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _piece(studio, tmp_path)
    root = str(studio.root)
    text = tmp_path / "reflection.txt"
    text.write_text("A longer text,\nwrapped by my editor.\n\nA second paragraph — with “quotes”.\n", encoding="utf-8")
    assert main(["catalog", "reflection", a, "--file", str(text), "--studio", root]) == 0
    with studio.catalog() as cat:
        assert cat.get_piece_by_slug(a).reflection == (
            "A longer text, wrapped by my editor.\n\nA second paragraph — with “quotes”.")
    capsys.readouterr()

    for argv, message in (
            ([a], "give the reflection as TEXT or with --file PATH"),
            ([a, "words", "--file", str(text)], "give the reflection as TEXT or with --file PATH"),
            ([a, "--file", str(tmp_path / "missing.txt")], "cannot read the reflection from"),
            (["no-such-piece", "words"], "no piece 'no-such-piece'")):
        assert main(["catalog", "reflection", *argv, "--studio", root]) == 2, argv
        assert message in capsys.readouterr().err, argv
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    assert main(["catalog", "reflection", a, "--file", str(latin1), "--studio", root]) == 2
    assert "cannot read the reflection from" in capsys.readouterr().err
    with studio.catalog() as cat:  # nothing above changed it
        assert cat.get_piece_by_slug(a).reflection.startswith("A longer text")
