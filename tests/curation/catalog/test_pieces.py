"""The piece store: adding a piece (files, slug, size), listing, titles and reflections, checking files against rows,
and a writer killed mid-piece (SIGKILL) leaving a consistent catalog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from curation.catalog import REFLECTION_MAX, Catalog, CatalogConflict, CatalogError, Theme, piece_reflection

REPO = Path(__file__).resolve().parents[3]


def test_add_piece_files_slug_size_and_listing(cat: Catalog, png: Callable[..., Path]) -> None:
    img = png(size=(8, 6))
    piece = cat.add_piece({"image.png": img, "settings.json": b"{}"}, prompt="a coral reef:1", theme="coral-reef",
                          seed=3, settings={"steps": 10})
    assert piece.slug.startswith("coral-reef-") and len(piece.slug) == len("coral-reef-") + 6
    assert piece.file == f"pieces/{piece.slug}/image.png" and piece.folder == f"pieces/{piece.slug}"
    assert (piece.width, piece.height, piece.seed, piece.status) == (8, 6, 3, "generated")
    assert (cat.root / piece.folder / "settings.json").read_bytes() == b"{}"
    # Same image again: a longer slug, never a clash.
    twin = cat.add_piece({"image.png": img}, prompt="a coral reef:1", theme="coral-reef")
    assert twin.slug != piece.slug and twin.slug.startswith(piece.slug)
    assert cat.get_piece_by_slug(piece.slug) == piece
    assert [p.id for p in cat.list_pieces(newest_first=True)] == [twin.id, piece.id]
    assert cat.count_pieces() == 2 and cat.count_pieces("generated") == 2
    with pytest.raises(CatalogError, match="needs the image file"):
        cat.add_piece({"other.png": img}, prompt="x")
    with pytest.raises(CatalogError, match="plain file name"):
        cat.add_piece({"image.png": img, "../evil": b"x"}, prompt="x")
    with pytest.raises(CatalogError, match="unknown piece status"):
        cat.list_pieces("bogus")
    assert not list((cat.root / "pieces").glob(".tmp-*"))  # failed adds leave nothing behind
    assert cat.check() == []
    with pytest.raises(CatalogError, match="leaves the studio"):
        cat.abspath("../outside.png")


def test_titles_are_tidied_bounded_and_clearable(cat: Catalog, png: Callable[..., Path]) -> None:
    p = cat.add_piece({"image.png": png()}, prompt="x:1", theme="coral-reef")
    before = cat.revision()
    cat.set_title(p.id, "  Bleached\n  reef ")
    assert cat.get_piece(p.id).title == "Bleached reef"
    assert cat.revision() > before  # a display polling the revision picks the new title up
    with pytest.raises(CatalogError, match="at most 120 characters"):
        cat.set_title(p.id, "x" * 121)
    with pytest.raises(CatalogError, match="control characters U\\+0000"):
        cat.set_title(p.id, "Reef\x00night")  # a NUL stops the gallery's font renderer
    assert cat.get_piece(p.id).title == "Bleached reef"
    cat.set_title(p.id, "")
    assert cat.get_piece(p.id).title == ""
    with pytest.raises(CatalogError, match="no piece with id"):
        cat.set_title(9999, "t")


def test_reflections_are_tidied_bounded_clearable_and_fall_back(cat: Catalog, png: Callable[..., Path]) -> None:
    cat.upsert_theme(Theme(name="coral-reef", title="Coral reef", reflection="  The theme's words. "))
    p = cat.add_piece({"image.png": png()}, prompt="x:1", theme="coral-reef")
    theme = cat.get_theme("coral-reef")
    assert p.reflection == "" and piece_reflection(p, theme) == "The theme's words."
    assert piece_reflection(p, None) == ""
    before = cat.revision()
    cat.set_reflection(p.id, "  White where it\n  was coloured.\r\n \r\n\n\tA reef,\tholding its breath.  \n")
    p = cat.get_piece(p.id)
    assert p.reflection == "White where it was coloured.\n\nA reef, holding its breath."
    assert piece_reflection(p, theme) == p.reflection  # the piece's own words win
    assert cat.revision() == before + 1  # a display polling the revision picks it up
    assert REFLECTION_MAX == 600
    cat.set_reflection(p.id, "y" * 600)  # exactly at the bound
    with pytest.raises(CatalogError, match="at most 600 characters.*not 601; shorten it by 1"):
        cat.set_reflection(p.id, "x" * 601)
    with pytest.raises(CatalogError, match="control characters U\\+0000, U\\+001B"):
        cat.set_reflection(p.id, "a\x00b\x1b[31m")
    assert cat.get_piece(p.id).reflection == "y" * 600  # refused texts change nothing
    cat.set_reflection(p.id, " \n\n ")
    p = cat.get_piece(p.id)
    assert p.reflection == "" and piece_reflection(p, theme) == "The theme's words."
    with pytest.raises(CatalogError, match="no piece with id"):
        cat.set_reflection(9999, "t")
    emoji = "Coral 🪸 and a family 👩\u200d👩\u200d👧 — ‘quoted’"
    cat.set_reflection(p.id, emoji)  # not a control character: format characters (ZWJ) are kept
    assert cat.get_piece(p.id).reflection == emoji


def test_a_row_that_cannot_be_written_leaves_no_folder(cat: Catalog, png: Callable[..., Path]) -> None:
    before = cat.revision()
    with pytest.raises(CatalogConflict, match="FOREIGN KEY|foreign key"):
        cat.add_piece({"image.png": png()}, prompt="x:1", job_id=999)  # no such job: the INSERT fails after the rename
    assert list((cat.root / "pieces").iterdir()) == [] and cat.count_pieces() == 0 and cat.revision() == before


def test_check_finds_missing_and_changed_files(cat: Catalog, png: Callable[..., Path]) -> None:
    p = cat.add_piece({"image.png": png()}, prompt="x:1")
    q = cat.add_piece({"image.png": png("b.png", color=(9, 9, 9))}, prompt="y:1")
    (cat.root / p.file).write_bytes(b"not the same image")
    (cat.root / q.file).unlink()
    problems = cat.check()
    assert any(p.slug in m and "sha256" in m for m in problems)
    if cat.backend == "sqlite":
        assert any(q.slug in m and "missing" in m for m in problems)
        return
    # on a shared catalog this machine's copy is fetched again; the stored bytes are what must be whole
    assert not any(q.slug in m for m in problems)
    assert cat.abspath(q.file).read_bytes() == png("b.png", color=(9, 9, 9)).read_bytes()
    with cat.transaction(visible=False) as db:
        db.execute("UPDATE piece_files SET data = ? WHERE piece_id = ?", (b"rot", q.id))
    assert f"piece {q.slug}: the catalog's image.png does not match its sha256" in cat.check()
    with cat.transaction(visible=False) as db:
        db.execute("DELETE FROM piece_files WHERE piece_id = ?", (q.id,))
    assert f"piece {q.slug}: the catalog holds no bytes for its image {q.file}" in cat.check()


def test_a_pieces_files_reach_every_machine_with_its_row(catalog_url: str, tmp_path: Path,
                                                         png: Callable[..., Path]) -> None:
    """On PostgreSQL the files travel in the row's transaction: another machine (another studio folder) gets them on
    first use, checked, and keeps a copy."""
    image = png(size=(40, 30))
    with (Catalog(catalog_url, root=tmp_path / "gpu-box") as gpu,
          Catalog(catalog_url, root=tmp_path / "gallery") as wall):
        job = gpu.enqueue("a glacier:1")
        gpu.claim_job("gpu-box:1")
        piece, _ = gpu.store_piece(job, {"image.png": image, "settings.json": b'{"seed": 3}'}, prompt="a glacier:1")
        seen = wall.get_piece_by_slug(piece.slug)
        local = tmp_path / "gallery" / piece.file
        assert not local.exists() and (seen.width, seen.height) == (40, 30)
        assert wall.abspath(seen.file) == local.resolve() and local.read_bytes() == image.read_bytes()
        sidecar = wall.abspath(f"{seen.folder}/settings.json")
        assert sidecar.read_bytes() == b'{"seed": 3}'
        assert not wall.abspath(f"{seen.folder}/nothing.png").exists()  # no such file: nothing made up
        assert wall.check() == [] and gpu.check() == []


_WRITER = textwrap.dedent("""
    import os, shutil, sys, time
    from curation.catalog import Catalog
    real_copy = shutil.copyfile
    def slow_copy(src, dst, *a, **k):
        out = real_copy(src, dst, *a, **k)
        print("copied", os.path.basename(dst), flush=True)
        time.sleep(0.05)
        return out
    shutil.copyfile = slow_copy
    import curation.catalog.pieces as pieces
    real_move = pieces.move_dir
    def slow_move(src, dst):  # inside the transaction: the row (and on PostgreSQL the bytes) written, not committed
        real_move(src, dst)
        print("moved", flush=True)
        time.sleep(0.05)
    pieces.move_dir = slow_move
    cat = Catalog(sys.argv[1], root=sys.argv[3])
    src = sys.argv[2]
    i = 0
    while True:
        files = {"image.png": src, "settings.json": src, "loss.csv": src, "loss.png": src}
        cat.add_piece(files, prompt=f"piece {i}:1", title=f"p{i}")
        print("added", i, flush=True)
        i += 1
""")


def _run_and_kill(location: str | Path, root: Path, src: Path, kill_after: str, skip: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(location), str(src), str(root)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        seen = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the writer died before it was killed"
            if line.startswith(kill_after):
                seen += 1
                if seen > skip:
                    break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.parametrize(("kill_after", "skip"), [("copied loss.csv", 1), ("added", 0), ("copied image.png", 2),
                                                   ("moved", 1)])
def test_sigkill_mid_piece_leaves_a_consistent_catalog(tmp_path: Path, location: str | Path, png: Callable[..., Path],
                                                       kill_after: str, skip: int) -> None:
    root = tmp_path / "studio"
    _run_and_kill(location, root, png(size=(64, 64)), kill_after, skip)
    with Catalog(location, root=root) as cat:
        # at most what the piece being written left: its temporary folder (with its age), or its folder renamed
        # into place just before a commit that never came
        for m in cat.check():
            assert (m.startswith("temporary folder pieces/.tmp-") and " s old: " in m) or "has no catalog row" in m
        pieces = cat.list_pieces()
        assert len(pieces) >= 1
        for p in pieces:  # no row without its files
            assert sorted(os.listdir(cat.root / p.folder)) == ["image.png", "loss.csv", "loss.png", "settings.json"]
        if cat.backend == "postgresql":  # nor bytes without their row
            assert cat._db.execute("SELECT COUNT(*) FROM piece_files").fetchone()[0] == 4 * len(pieces)
        cat.remove_orphans(older_than_s=0)
        folders = sorted(p.name for p in (cat.root / "pieces").iterdir() if not p.name.startswith("."))
        assert folders == sorted(p.slug for p in pieces)  # no folder without its row
        assert not list((cat.root / "pieces").glob(".tmp-*")) and cat.check() == []


def test_a_piece_folder_without_its_row_is_reported_then_set_aside(tmp_path: Path) -> None:
    """The window between add_piece's rename and its commit: a kill there leaves a folder with no row."""
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        kept = cat.add_piece({"image.png": b"\x89PNG\r\n\x1a\n-not-really"}, prompt="a glacier:1")
        stray = cat.root / "pieces" / "glacier-0badc0"
        stray.mkdir()
        (stray / "image.png").write_bytes(b"pixels")
        problems = cat.check()
        assert len(problems) == 1 and "pieces/glacier-0badc0 has no catalog row" in problems[0]
        assert cat.remove_orphans(older_than_s=3600) == []  # too recent: a live writer may still commit it
        assert cat.remove_orphans(older_than_s=0) == [stray]
        assert (cat.root / "pieces" / ".orphaned" / "glacier-0badc0" / "image.png").read_bytes() == b"pixels"
        assert cat.check() == []
        assert (cat.root / kept.file).is_file()
