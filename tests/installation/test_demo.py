"""`dstrtd demo` end to end through `installation.cli.main`: studio, jobs, worker, curation, exports, frames."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from curation.catalog import Catalog
from curation.studio import init_studio
from installation.cli import main
from installation.demo import DEMO_MARKER, prepare_studio


def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo-out"
    assert main(["-q", "demo", "--out", str(out), "--jobs", "3", "--frames", "1"]) == 0
    text = capsys.readouterr().out
    assert f"Everything is in {out.resolve()}" in text
    assert "tiny random networks" in text and "dstrtd weights" in text  # says what the pieces are, and the way out
    assert json.loads((out / "selection.json").read_text())["min_aesthetic"] == 1.0
    with Catalog(out / "catalog.sqlite") as cat:
        jobs = cat.list_jobs()
        assert [j.theme for j in jobs] == ["coral-reef", "coral-reef", "old-growth-forest"]
        assert {j.status for j in jobs} == {"done"}
        pieces = cat.list_pieces()
        assert len(pieces) == 3 and all(p.status != "generated" for p in pieces)
        assert all(p.slug in text for p in pieces)
        assert all(set(p.scores) == {"aesthetic", "alignment"} for p in pieces)
        assert all(cat.decisions(p.id) for p in pieces)
        assert cat.check() == []
        public = cat.list_pieces(("accepted", "featured"))
        assert public, "the demo policy lets something through"
        if importlib.util.find_spec("installation.export.posters"):
            [poster] = cat.exports(kind="poster")
            assert (out / poster["path"]).is_file() and poster["path"] in text.replace(str(out.resolve()) + "/", "")
        if importlib.util.find_spec("installation.export.social"):
            assert cat.exports(kind="social")
    if importlib.util.find_spec("installation.gallery.app"):
        frame = out / "gallery-frames" / "frame-1.png"
        assert frame.is_file() and str(frame.resolve()) in text
        with Image.open(frame) as im:
            assert im.size == (640, 360)
            assert im.convert("L").getextrema()[1] > 0  # not a black screen: a piece is on it


def test_demo_refuses_a_folder_with_other_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "thesis.docx").write_text("do not touch")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "a folder with other files in it" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "x"), "--jobs", "99"]) == 2
    assert "--jobs must be between 1 and" in capsys.readouterr().err


def test_demo_refuses_a_studio_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artist = init_studio(tmp_path / "studio")
    before = sorted(p.name for p in artist.root.iterdir())
    assert main(["demo", "--out", str(artist.root), "--jobs", "1", "--frames", "0"]) == 2
    err = capsys.readouterr().err
    assert "a studio the demo did not make" in err and "new or empty folder" in err
    assert sorted(p.name for p in artist.root.iterdir()) == before  # no policy, no marker, no piece
    with artist.catalog() as cat:
        assert cat.list_jobs() == []


def test_demo_reuses_its_own_folder_and_takes_an_empty_one(tmp_path: Path) -> None:
    made = prepare_studio(tmp_path / "demo")
    assert (made.root / DEMO_MARKER).is_file() and (made.root / "selection.json").is_file()
    assert prepare_studio(tmp_path / "demo").root == made.root  # a re-run of the demo into its own folder
    (tmp_path / "empty").mkdir()
    assert (prepare_studio(tmp_path / "empty").root / DEMO_MARKER).is_file()
