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
from installation.export.config import ContactSheetConfig, PosterConfig
from installation.export.contact_sheet import render_contact_sheet
from installation.export.errors import ExportError
from installation.export.layout import page_pixels, poster_geometry
from installation.export.posters import export_posters

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


def test_posters_of_pieces_that_are_not_public_are_refused_before_drawing(
        studio, catalog, add_piece, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Their QR codes would lead to a page that answers "not found": refused, named, with the fix."""
    public, draft, dropped = (add_piece(catalog, status=s) for s in ("accepted", "generated", "rejected"))
    out = tmp_path / "posters"
    argv = ["export", "posters", "--studio", str(studio.root), "--size", "A5", "--dpi", "72", "--no-pdf",
            "--workers", "1", "--out", str(out)]
    assert main([*argv, "--pieces", public.slug, draft.slug, dropped.slug]) == 2
    err = capsys.readouterr().err
    assert f"{draft.slug} (generated), {dropped.slug} (rejected)" in err and public.slug not in err
    assert "dstrtd catalog accept" in err and "--allow-private" in err and err.count("\n") == 1
    assert not out.exists(), "nothing drawn, nothing written"
    with pytest.raises(ExportError, match="not public"):
        export_posters(catalog, [draft], out, PosterConfig(size="A5", dpi=72, pdf=False), workers=1)
    assert main([*argv, "--pieces", draft.slug, "--allow-private"]) == 0  # proofs, when asked for
    assert (out / f"{draft.slug}-A5.png").is_file()


def test_poster_pages_and_contact_sheets_are_capped_in_pixels_before_allocating(
        studio, catalog, add_piece, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    piece = add_piece(catalog)
    assert PosterConfig().max_pixels == 160_000_000
    assert page_pixels(PosterConfig(size="A0", dpi=300, bleed=True, crop_marks=True)) <= PosterConfig().max_pixels
    for argv, message in (
            (["--size", "5000x5000mm", "--dpi", "1200"], "makes a page of 55,800 Mpx, over the limit of 160 Mpx"),
            (["--size", "A0", "--dpi", "600"], "use --dpi 321 or less, or a smaller --size"),
            (["--size", "A5", "--dpi", "150", "--max-pixels", "1000000"], "over the limit of 1 Mpx")):
        assert main(["export", "posters", "--studio", str(studio.root), "--pieces", piece.slug, "--workers", "1",
                     "--out", str(tmp_path / "p"), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "p").exists()
    with pytest.raises(ExportError, match="over the limit of 1 Mpx"):
        poster_geometry(PosterConfig(size="A5", dpi=150, max_pixels=1_000_000), (128, 128), "https://x.example/p/a")

    for thumb in ("8", "4096"):
        assert main(["export", "contact-sheet", "--studio", str(studio.root), "--thumb", thumb,
                     "--out", str(tmp_path / "s.png")]) == 2
        assert "thumb must be between 16 and 1024 px" in capsys.readouterr().err
    many = [piece] * 1000
    with pytest.raises(ExportError, match=r"1000 pieces at 1024 px in 6 columns make a .* over the limit of 120 Mpx"):
        render_contact_sheet(catalog, many, ContactSheetConfig(thumb=1024))
