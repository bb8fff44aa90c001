"""The artist at work through `installation.cli.main`: deciding and titling pieces, queueing edited themes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from installation.cli import main


def _pieces(studio, tmp_path: Path, n: int = 2) -> list[str]:
    slugs = []
    with studio.catalog() as cat:
        for i in range(n):
            image = tmp_path / f"{i}.png"
            Image.new("RGB", (16, 16), (40 * i, 90, 200)).save(image)
            slugs.append(cat.add_piece({"image.png": image}, prompt=f"a reef {i}:1", theme="coral-reef").slug)
    return slugs


def test_deciding_by_hand_records_who_and_why(studio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pieces(studio, tmp_path)
    root = str(studio.root)
    assert main(["catalog", "feature", a, b, "--reason", "the bleaching reads from afar", "--by", "mira",
                 "--studio", root]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{a}: generated -> featured", f"{b}: generated -> featured"]
    assert main(["catalog", "reject", b, "--studio", root]) == 0
    with studio.catalog() as cat:
        pa, pb = cat.get_piece_by_slug(a), cat.get_piece_by_slug(b)
        assert (pa.status, pb.status) == ("featured", "rejected")
        assert cat.decisions(pa.id)[-1].reasons == ("by mira via cli: the bleaching reads from afar",)
        assert cat.decisions(pb.id)[-1].reasons[0].startswith("by ")
        assert cat.decisions(pb.id)[-1].reasons[0].endswith(" via cli")
    assert main(["catalog", "show", a, "--studio", root]) == 0
    assert "by mira via cli: the bleaching reads from afar" in capsys.readouterr().out


def test_an_unknown_slug_writes_nothing(studio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (a,) = _pieces(studio, tmp_path, 1)
    assert main(["catalog", "accept", a, "no-such-piece", "--studio", str(studio.root)]) == 2
    assert "no piece 'no-such-piece'" in capsys.readouterr().err
    with studio.catalog() as cat:
        piece = cat.get_piece_by_slug(a)
        assert piece.status == "generated" and cat.decisions(piece.id) == []


def test_curation_leaves_pieces_decided_by_hand_alone(studio, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pieces(studio, tmp_path)
    root = str(studio.root)
    assert main(["catalog", "reject", a, "--reason", "too literal", "--studio", root]) == 0
    assert main(["curate", "--studio", root, "--scorer", "tiny", "--encoder", "tiny", "--random-curators"]) == 0
    capsys.readouterr()
    with studio.catalog() as cat:
        pa, pb = cat.get_piece_by_slug(a), cat.get_piece_by_slug(b)
        assert pa.status == "rejected" and len(cat.decisions(pa.id)) == 1 and "aesthetic" not in pa.scores
        assert pb.status != "generated" and "aesthetic" in pb.scores  # the other one was curated


def test_titles_show_everywhere_and_clear(studio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (a,) = _pieces(studio, tmp_path, 1)
    root = str(studio.root)
    assert main(["catalog", "title", a, "Bleached,  at noon", "--studio", root]) == 0
    assert capsys.readouterr().out.strip() == f"{a}: title 'Bleached, at noon'"
    assert main(["catalog", "show", a, "--studio", root]) == 0
    assert "  title    Bleached, at noon" in capsys.readouterr().out
    assert main(["catalog", "title", a, "x" * 121, "--studio", root]) == 2
    assert "at most 120 characters" in capsys.readouterr().err
    assert main(["catalog", "title", a, "", "--studio", root]) == 0
    assert "title cleared" in capsys.readouterr().out
    with studio.catalog() as cat:
        assert cat.get_piece_by_slug(a).title == ""


def test_queue_takes_the_theme_as_edited_now(studio, capsys: pytest.CaptureFixture[str]) -> None:
    studio.themes_path.write_text(studio.themes_path.read_text()
                                  + '\n[[theme]]\nname = "kelp"\nprompts = ["a kelp forest:1"]\n')
    assert main(["queue", "--studio", str(studio.root), "--theme", "kelp"]) == 0
    assert "a kelp forest:1 (theme kelp)" in capsys.readouterr().out
    studio.themes_path.write_text("[[theme]]\nprompts = 3\n")
    assert main(["queue", "--studio", str(studio.root), "--theme", "kelp"]) == 2
    assert "themes.toml: theme #1 needs a `name`" in capsys.readouterr().err
