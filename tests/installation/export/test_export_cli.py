"""The `dstrtd export` subcommands end to end, the contact sheet, and the promise that exporting loads no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from curation.public import piece_url
from installation.cli import main
from installation.export.config import ContactSheetConfig
from installation.export.contact_sheet import render_contact_sheet
from installation.export.errors import ExportError

ROOT = Path(__file__).resolve().parents[3]


def test_posters_command(studio, catalog, add_piece, tmp_path: Path, base_url: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    a, b = add_piece(catalog, status="featured"), add_piece(catalog, status="generated")
    out = tmp_path / "posters"
    code = main(["export", "posters", "--studio", str(studio.root), "--featured", "--size", "A5", "--dpi", "100",
                 "--out", str(out), "--bleed", "--crop-marks", "--title", "--workers", "1"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{a.slug}-A5.{ext}" for ext in ("json", "pdf", "png")]
    sidecar = json.loads((out / f"{a.slug}-A5.json").read_text())
    assert sidecar["url"] == piece_url(a.slug, base_url) and sidecar["bleed_mm"] == 3.0
    assert sidecar["config"]["crop_marks"] is True
    assert "wrote 1 posters" in capsys.readouterr().out
    assert not catalog.exports(piece_id=b.id)


def test_posters_command_reports_a_failed_piece_and_goes_on(studio, catalog, add_piece, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = add_piece(catalog), add_piece(catalog)
    (studio.root / bad.file).unlink()
    code = main(["export", "posters", "--studio", str(studio.root), "--pieces", good.slug, bad.slug,
                 "--size", "A5", "--dpi", "72", "--no-png", "--out", str(tmp_path / "p"), "--workers", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"failed: {bad.slug}" in err and "1 of 2 posters failed" in err
    assert (tmp_path / "p" / f"{good.slug}-A5.pdf").is_file()


def test_posters_command_rejects_bad_options(studio, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "posters", "--studio", str(studio.root), "--size", "B9"]) == 2
    assert "unknown paper size 'B9'" in capsys.readouterr().err
    assert main(["export", "posters", "--studio", str(studio.root), "--pieces", "no-such-piece"]) == 2
    assert "no piece with slug no-such-piece" in capsys.readouterr().err


def test_social_command(studio, catalog, add_piece, tmp_path: Path) -> None:
    piece = add_piece(catalog, with_loss_png=True)
    out = tmp_path / "social"
    assert main(["export", "social", "--studio", str(studio.root), "--out", str(out), "--format", "1:1",
                 "--carousel"]) == 0
    assert sorted(p.name for p in (out / piece.slug).iterdir()) == [
        "alt.txt", "caption.txt", "how-a-computer-sees-it.jpg", "image.jpg", "post.json"]
    with Image.open(out / piece.slug / "image.jpg") as im:
        assert im.size == (1080, 1080)


def test_contact_sheet(studio, catalog, add_piece, tmp_path: Path) -> None:
    pieces = [add_piece(catalog, status=s) for s in ("generated", "accepted", "rejected", "featured", "accepted")]
    catalog.add_score(pieces[0].id, "aesthetic", 6.25)
    catalog.add_score(pieces[0].id, "clip", 0.31)
    sheet = render_contact_sheet(catalog, catalog.list_pieces(), ContactSheetConfig(columns=3, thumb=120))
    assert sheet.width < sheet.height < 3 * sheet.width  # 3 columns, 2 rows
    out = tmp_path / "sheet.png"
    assert main(["export", "contact-sheet", "--studio", str(studio.root), "--out", str(out),
                 "--status", "accepted", "featured", "--thumb", "96"]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 3 * 96
    with pytest.raises(ExportError, match="no pieces"):
        render_contact_sheet(catalog, [])
    assert main(["export", "contact-sheet", "--studio", str(studio.root), "--out", str(tmp_path / "x.jpg")]) == 2


def test_exporting_loads_no_torch() -> None:
    probe = ("import sys\n"
             "import installation.export.posters, installation.export.social, installation.export.contact_sheet\n"
             "import installation.engagement.readback, installation.engagement.audience\n"
             "import installation.commands.export, installation.commands.engagement\n"
             "mods = [m for m in sys.modules if m.startswith('generator.') and not m.startswith('generator.common')]\n"
             "print('torch' in sys.modules, bool(mods))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
