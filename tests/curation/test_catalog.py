"""The catalog: schema, migrations, jobs, pieces, scores and decisions, atomicity under SIGKILL, concurrent claims."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from curation import catalog as catalog_mod
from curation.catalog import SCHEMA_VERSION, Catalog, CatalogError, Theme, slugify

REPO = Path(__file__).resolve().parents[2]


def _png(tmp_path: Path, name: str = "a.png", size: tuple[int, int] = (8, 6), color: tuple[int, int, int] = (1, 2, 3)
         ) -> Path:
    from PIL import Image

    path = tmp_path / name
    Image.new("RGB", size, color).save(path)
    return path


@pytest.fixture()
def cat(tmp_path: Path):
    with Catalog(tmp_path / "studio" / "catalog.sqlite") as c:
        c.upsert_theme(Theme(name="coral-reef", title="Coral reef", prompts=("a coral reef:1",)))
        yield c


def test_schema_tables_version_and_wal(cat: Catalog) -> None:
    assert cat.schema_version() == SCHEMA_VERSION == 4
    tables = {r[0] for r in cat._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"themes", "jobs", "pieces", "scores", "decisions", "clusters", "exports", "engagement", "commands",
            "revision"} <= tables
    assert cat._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert cat._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migration_from_v1_keeps_data_and_adds_v2(tmp_path: Path) -> None:  # and v3 after it
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in catalog_mod._MIGRATIONS[1].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO themes (name, prompts, updated) VALUES ('glacier', '[\"a glacier:1\"]', 'now')")
    db.execute("INSERT INTO jobs (prompt, theme, created, updated) VALUES ('a glacier:1', 'glacier', 'now', 'now')")
    db.close()

    with pytest.raises(CatalogError, match="schema version 1.*migrate"):
        Catalog(path, readonly=True)
    with Catalog(path) as cat:
        assert cat.schema_version() == SCHEMA_VERSION
        assert cat.get_theme("glacier").prompts == ("a glacier:1",)
        assert [j.prompt for j in cat.list_jobs()] == ["a glacier:1"]
        assert cat.revision() == 0
        cat.post_command("display", "next")
        assert cat.take_commands("display") == [("next", {})]
        assert cat.revision() == 2
    with Catalog(path, readonly=True) as ro:  # now readable read-only
        assert ro.schema_version() == SCHEMA_VERSION
        with pytest.raises(CatalogError, match="read-only"):
            ro.post_command("display", "next")


def test_migration_from_v2_keeps_pieces_and_adds_their_reflection(tmp_path: Path) -> None:
    path = tmp_path / "studio" / "catalog.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2):
        for statement in catalog_mod._MIGRATIONS[version].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO themes (name, title, reflection, updated) VALUES ('glacier', 'Glacier', 'Old ice.', 'now')")
    db.execute("""INSERT INTO pieces (slug, file, sha256, theme, prompt, status, title, width, height, created, updated)
                  VALUES ('glacier-abc123', 'pieces/glacier-abc123/image.png', 'f00', 'glacier', 'a glacier:1',
                          'featured', 'Blue hour', 8, 6, 'then', 'then')""")
    db.execute("UPDATE revision SET value = 7")
    db.close()

    with pytest.raises(CatalogError, match=f"schema version 2, this DSTRTD reads {SCHEMA_VERSION}.*migrate"):
        Catalog(path, readonly=True)
    with Catalog(path) as cat:
        assert cat.schema_version() == SCHEMA_VERSION
        piece = cat.get_piece_by_slug("glacier-abc123")
        assert (piece.title, piece.status, piece.width, piece.prompt, piece.reflection) == (
            "Blue hour", "featured", 8, "a glacier:1", "")
        assert catalog_mod.piece_reflection(piece, cat.get_theme("glacier")) == "Old ice."
        assert cat.revision() == 7  # migrating is not an edit
        cat.set_reflection(piece.id, "Mine.")
    with Catalog(path, readonly=True) as ro:
        assert ro.get_piece_by_slug("glacier-abc123").reflection == "Mine."
        assert ro.revision() == 8


def test_migration_from_v3_keeps_jobs_and_adds_their_progress(tmp_path: Path) -> None:
    path = tmp_path / "studio" / "catalog.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2, 3):
        for statement in catalog_mod._MIGRATIONS[version].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO themes (name, prompts, updated) VALUES ('glacier', '[\"a glacier:1\"]', 'now')")
    for status, worker in (("running", "gpu0:1"), ("queued", ""), ("failed", "")):
        db.execute("INSERT INTO jobs (prompt, theme, status, worker, error, priority, created, updated) "
                   "VALUES ('a glacier:1', 'glacier', ?, ?, ?, 2, 'then', 'then')",
                   (status, worker, "boom" if status == "failed" else ""))
    db.execute("UPDATE revision SET value = 5")
    db.close()

    with pytest.raises(CatalogError, match=f"schema version 3, this DSTRTD reads {SCHEMA_VERSION}.*migrate"):
        Catalog(path, readonly=True)
    with Catalog(path) as cat:
        assert cat.schema_version() == SCHEMA_VERSION == 4
        jobs = cat.list_jobs()
        assert [(j.status, j.worker, j.error, j.priority, j.theme) for j in jobs] == [
            ("running", "gpu0:1", "", 2, "glacier"), ("queued", "", "", 2, "glacier"),
            ("failed", "", "boom", 2, "glacier")]
        assert {(j.step, j.steps, j.loss, j.progressed, j.fraction) for j in jobs} == {(0, 0, None, "", None)}
        assert cat.revision() == 5  # migrating is not an edit
        assert cat.set_job_progress(jobs[0].id, 120, 300, 0.81234)
        assert cat.revision() == 5
    with Catalog(path, readonly=True) as ro:
        job = ro.get_job(jobs[0].id)
        assert (job.step, job.steps, job.loss, job.fraction, job.updated) == (120, 300, 0.81234, 0.4, "then")
        assert job.progressed.startswith("20")


def test_job_progress_is_recorded_without_moving_the_revision(cat: Catalog) -> None:
    job_id = cat.enqueue("a coral reef:1", theme="coral-reef")
    assert not cat.set_job_progress(job_id, 1, 10, 0.5)  # queued: nothing to record
    job = cat.claim_job("w1")
    before, started = cat.revision(), job.updated
    for step in (1, 4, 10):
        assert cat.set_job_progress(job_id, step, 10, 1.0 / step)
    assert cat.revision() == before  # the gallery reloads on a revision change; progress is none of its business
    job = cat.get_job(job_id)
    assert (job.step, job.steps, job.loss, job.fraction, job.updated) == (10, 10, 0.1, 1.0, started)
    assert cat.set_job_progress(job_id, 3, 10, float("nan")) and cat.get_job(job_id).loss is None
    raw = cat._db.execute("SELECT progress FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    assert json.loads(raw)["loss"] is None and "NaN" not in raw  # stays strict JSON
    for step, steps in ((11, 10), (-1, 10), (0, 0)):
        with pytest.raises(CatalogError, match="progress is step 0..steps"):
            cat.set_job_progress(job_id, step, steps, 0.1)
    cat.fail_job(job_id, "NaN", requeue=False)
    assert cat.get_job(job_id).step == 3  # a failed job keeps where it stopped
    assert not cat.set_job_progress(job_id, 4, 10, 0.1)
    assert cat._db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000  # the short wait was put back
    cat.fail_job(job_id, "retry", requeue=True)  # (a requeue of a failed job, as `fail_job` allows)
    assert cat.claim_job("w2").step == 0  # a new attempt starts without the old attempt's progress
    assert [j.id for j in cat.list_jobs("running", limit=1, newest_first=True)] == [job_id]
    with Catalog(cat.path, readonly=True) as ro, pytest.raises(CatalogError, match="read-only"):
        ro.set_job_progress(job_id, 1, 10, 0.1)


def test_a_locked_catalog_fails_a_progress_write_quickly(cat: Catalog) -> None:
    job_id = cat.enqueue("a coral reef:1")
    cat.claim_job("w1")
    other = sqlite3.connect(cat.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        t0 = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cat.set_job_progress(job_id, 1, 10, 0.5)
        assert time.monotonic() - t0 < 5  # not the 30 s of a real write
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(CatalogError, match="newer than this DSTRTD"):
        Catalog(path)


def test_readonly_missing_catalog_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="dstrtd init"):
        Catalog(tmp_path / "nope.sqlite", readonly=True)


def test_themes_round_trip_and_unknown_theme(cat: Catalog) -> None:
    theme = Theme(name="glacier", prompts=("a:1", "b:0.5"), hashtags=("#x",), negative_prompts=("n:-1",), title="G")
    cat.upsert_theme(theme)
    assert cat.get_theme("glacier") == theme
    cat.upsert_theme(Theme(name="glacier", prompts=("c:1",)))
    assert cat.get_theme("glacier").prompts == ("c:1",)
    assert [t.name for t in cat.list_themes()] == ["coral-reef", "glacier"]
    with pytest.raises(CatalogError, match="unknown theme 'nope'; known themes: coral-reef, glacier"):
        cat.enqueue("x:1", theme="nope")


def test_jobs_claim_finish_fail_requeue(cat: Catalog) -> None:
    with pytest.raises(CatalogError, match="needs a prompt"):
        cat.enqueue("  ")
    low = cat.enqueue("low:1", priority=-1)
    first = cat.enqueue("first:1", theme="coral-reef", settings={"steps": 5})
    second = cat.enqueue("second:1")
    job = cat.claim_job("w1")
    assert (job.id, job.status, job.worker, job.attempts, job.settings) == (first, "running", "w1", 1, {"steps": 5})
    cat.fail_job(first, "NaN", requeue=True, settings={"steps": 5, "seed": 9})
    again = cat.claim_job("w2")
    assert (again.id, again.attempts, again.settings["seed"], again.error) == (first, 2, 9, "NaN")
    cat.finish_job(first, None)
    assert cat.get_job(first).status == "done" and cat.get_job(first).error == ""
    assert cat.claim_job("w1").id == second
    assert cat.claim_job("w2").id == low  # lowest priority last
    assert cat.claim_job("w1") is None
    assert cat.requeue_running("w2") == 1 and cat.get_job(low).status == "queued"
    cat.fail_job(second, "bad weights", requeue=False)
    assert cat.get_job(second).status == "failed"
    assert [j.id for j in cat.list_jobs("queued")] == [low]
    assert cat.requeue_running() == 0


def test_add_piece_files_slug_size_and_listing(cat: Catalog, tmp_path: Path) -> None:
    img = _png(tmp_path, size=(8, 6))
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


def test_scores_decisions_and_clusters(cat: Catalog, tmp_path: Path) -> None:
    p = cat.add_piece({"image.png": _png(tmp_path)}, prompt="x:1", theme="coral-reef")
    cat.add_score(p.id, "aesthetic", 4.0, version="tiny@1")
    cat.add_score(p.id, "aesthetic", 6.5, version="tiny@2", details={"k": 1})
    cat.add_score(p.id, "alignment", 0.3)
    assert cat.get_piece(p.id).scores == {"aesthetic": 6.5, "alignment": 0.3}
    assert [s.version for s in cat.scores(p.id)] == ["tiny@1", "tiny@2", ""]
    cat.decide(p.id, "accepted", ["aesthetic 6.50 ≥ 5.00"])
    assert cat.get_piece(p.id).status == "accepted"
    assert cat.decisions(p.id)[0].reasons == ("aesthetic 6.50 ≥ 5.00",)
    with pytest.raises(CatalogError, match="a decision is one of"):
        cat.decide(p.id, "generated", [])
    with pytest.raises(CatalogError, match="no piece with id"):
        cat.decide(9999, "accepted", [])
    cat.set_clusters("fused", {p.id: 2}, {p.id: 0.5})
    assert cat.clusters() == {p.id: 2} == cat.clusters("fused")
    assert cat.clusters("other") == {}


def test_titles_are_tidied_bounded_and_clearable(cat: Catalog, tmp_path: Path) -> None:
    p = cat.add_piece({"image.png": _png(tmp_path)}, prompt="x:1", theme="coral-reef")
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


def test_reflections_are_tidied_bounded_clearable_and_fall_back(cat: Catalog, tmp_path: Path) -> None:
    cat.upsert_theme(Theme(name="coral-reef", title="Coral reef", reflection="  The theme's words. "))
    p = cat.add_piece({"image.png": _png(tmp_path)}, prompt="x:1", theme="coral-reef")
    theme = cat.get_theme("coral-reef")
    assert p.reflection == "" and catalog_mod.piece_reflection(p, theme) == "The theme's words."
    assert catalog_mod.piece_reflection(p, None) == ""
    before = cat.revision()
    cat.set_reflection(p.id, "  White where it\n  was coloured.\r\n \r\n\n\tA reef,\tholding its breath.  \n")
    p = cat.get_piece(p.id)
    assert p.reflection == "White where it was coloured.\n\nA reef, holding its breath."
    assert catalog_mod.piece_reflection(p, theme) == p.reflection  # the piece's own words win
    assert cat.revision() == before + 1  # a display polling the revision picks it up
    assert catalog_mod.REFLECTION_MAX == 600
    cat.set_reflection(p.id, "y" * 600)  # exactly at the bound
    with pytest.raises(CatalogError, match="at most 600 characters.*not 601; shorten it by 1"):
        cat.set_reflection(p.id, "x" * 601)
    with pytest.raises(CatalogError, match="control characters U\\+0000, U\\+001B"):
        cat.set_reflection(p.id, "a\x00b\x1b[31m")
    assert cat.get_piece(p.id).reflection == "y" * 600  # refused texts change nothing
    cat.set_reflection(p.id, " \n\n ")
    p = cat.get_piece(p.id)
    assert p.reflection == "" and catalog_mod.piece_reflection(p, theme) == "The theme's words."
    with pytest.raises(CatalogError, match="no piece with id"):
        cat.set_reflection(9999, "t")
    emoji = "Coral 🪸 and a family 👩\u200d👩\u200d👧 — ‘quoted’"
    cat.set_reflection(p.id, emoji)  # not a control character: format characters (ZWJ) are kept
    assert cat.get_piece(p.id).reflection == emoji


def test_check_finds_missing_and_changed_files(cat: Catalog, tmp_path: Path) -> None:
    p = cat.add_piece({"image.png": _png(tmp_path)}, prompt="x:1")
    q = cat.add_piece({"image.png": _png(tmp_path, "b.png", color=(9, 9, 9))}, prompt="y:1")
    (cat.root / p.file).write_bytes(b"not the same image")
    (cat.root / q.file).unlink()
    problems = cat.check()
    assert any(p.slug in m and "sha256" in m for m in problems)
    assert any(q.slug in m and "missing" in m for m in problems)


def test_revision_grows_with_every_write(cat: Catalog) -> None:
    before = cat.revision()
    cat.enqueue("x:1")
    assert cat.revision() == before + 1


def test_slugify() -> None:
    assert slugify("Old-growth Forest!") == "old-growth-forest"
    assert slugify("***") == "piece"
    assert slugify("a very long prompt about a coral reef at dawn", 16) == "a-very-long"


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
    cat = Catalog(sys.argv[1])
    src = sys.argv[2]
    i = 0
    while True:
        files = {"image.png": src, "settings.json": src, "loss.csv": src, "loss.png": src}
        cat.add_piece(files, prompt=f"piece {i}:1", title=f"p{i}")
        print("added", i, flush=True)
        i += 1
""")


def _run_and_kill(tmp_path: Path, kill_after: str, skip: int) -> None:
    db = tmp_path / "studio" / "catalog.sqlite"
    src = _png(tmp_path, size=(64, 64))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(src)], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)
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


@pytest.mark.parametrize(("kill_after", "skip"), [("copied loss.csv", 1), ("added", 0), ("copied image.png", 2)])
def test_sigkill_mid_piece_leaves_a_consistent_catalog(tmp_path: Path, kill_after: str, skip: int) -> None:
    _run_and_kill(tmp_path, kill_after, skip)
    with Catalog(tmp_path / "studio" / "catalog.sqlite") as cat:
        assert cat.check() == []
        pieces = cat.list_pieces()
        assert len(pieces) >= 1
        folders = sorted(p.name for p in (cat.root / "pieces").iterdir() if not p.name.startswith("."))
        assert folders == sorted(p.slug for p in pieces)  # no folder without its row, no row without its folder
        for p in pieces:
            assert sorted(os.listdir(cat.root / p.folder)) == ["image.png", "loss.csv", "loss.png", "settings.json"]
        cat.remove_orphans(older_than_s=0)
        assert not list((cat.root / "pieces").glob(".tmp-*"))


_CLAIMER = textwrap.dedent("""
    import sys
    from curation.catalog import Catalog
    cat = Catalog(sys.argv[1], timeout=60)
    taken = []
    while (job := cat.claim_job(sys.argv[2])) is not None:
        taken.append(job.id)
        cat.finish_job(job.id, None)
    print(" ".join(map(str, taken)))
""")


def test_two_processes_never_claim_the_same_job(tmp_path: Path) -> None:
    db = tmp_path / "catalog.sqlite"
    with Catalog(db) as cat:
        ids = [cat.enqueue(f"job {i}:1") for i in range(60)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, str(db), f"w{i}"], stdout=subprocess.PIPE, text=True,
                              env=env, cwd=REPO) for i in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    taken = [[int(x) for x in out.split()] for out in outs]
    assert sorted(taken[0] + taken[1]) == ids  # every job once, none twice
    with Catalog(db) as cat:
        jobs = cat.list_jobs()
        assert {j.status for j in jobs} == {"done"} and {j.attempts for j in jobs} == {1}
        assert json.dumps(sorted(j.worker for j in jobs)).count("w") == 60


def test_an_empty_command_poll_writes_nothing(tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        start = cat.revision()
        for _ in range(3):
            assert cat.take_commands("display") == []
        assert cat.revision() == start
        cat.post_command("display", "pause")
        cat.post_command("studio", "stop")
        assert cat.take_commands("display") == [("pause", {})]
        assert cat.revision() == start + 3  # two posts and one take
        assert cat.take_commands("display") == []
        assert cat.take_commands("studio") == [("stop", {})]


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
