"""The SQLite plumbing: schema and WAL, migrations from every older version, refusals, read-only opening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from curation.catalog import SCHEMA_VERSION, Catalog, CatalogError
from curation.catalog.records import piece_reflection
from curation.catalog.schema import MIGRATIONS


def _old_catalog(path: Path, version: int) -> sqlite3.Connection:
    """A catalog file as DSTRTD of schema `version` left it (the caller fills it and closes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    for v in range(1, version + 1):
        for statement in MIGRATIONS[v].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute(f"PRAGMA user_version = {version}")
    return db


def test_schema_tables_version_and_wal(cat: Catalog) -> None:
    assert cat.schema_version() == SCHEMA_VERSION == 5
    listing = ("SELECT name FROM sqlite_master WHERE type = 'table'" if cat.backend == "sqlite" else
               "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    tables = {r[0] for r in cat._db.execute(listing)}
    assert {"themes", "jobs", "pieces", "scores", "decisions", "clusters", "exports", "engagement", "commands",
            "revision", "workers", "piece_files", "job_duplicate_pieces"} <= tables
    if cat.backend == "sqlite":
        assert cat._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cat._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migration_from_v1_keeps_data_and_adds_v2(tmp_path: Path) -> None:  # and v3 after it
    path = tmp_path / "catalog.sqlite"
    db = _old_catalog(path, 1)
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
    with Catalog(path, readonly=True) as ro:  # now readable read-only
        assert ro.schema_version() == SCHEMA_VERSION
        with pytest.raises(CatalogError, match="read-only"):
            ro.post_command("display", "next")


def test_migration_from_v2_keeps_pieces_and_adds_their_reflection(tmp_path: Path) -> None:
    path = tmp_path / "studio" / "catalog.sqlite"
    db = _old_catalog(path, 2)
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
        assert piece_reflection(piece, cat.get_theme("glacier")) == "Old ice."
        assert cat.revision() == 7  # migrating is not an edit
        cat.set_reflection(piece.id, "Mine.")
    with Catalog(path, readonly=True) as ro:
        assert ro.get_piece_by_slug("glacier-abc123").reflection == "Mine."
        assert ro.revision() == 8


def test_migration_from_v3_keeps_jobs_and_adds_their_progress(tmp_path: Path) -> None:
    path = tmp_path / "studio" / "catalog.sqlite"
    db = _old_catalog(path, 3)
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
        assert cat.schema_version() == SCHEMA_VERSION == 5
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


def test_a_failed_transaction_writes_nothing_and_moves_nothing(cat: Catalog) -> None:
    before = cat.revision()
    with pytest.raises(RuntimeError, match="midway"), cat.transaction() as db:
        db.execute("UPDATE themes SET title = 'changed'")
        raise RuntimeError("midway")
    assert cat.get_theme("coral-reef").title == "Coral reef" and cat.revision() == before
    with cat.transaction(visible=False) as db:
        db.execute("UPDATE themes SET facts = 'f'")
    assert cat.revision() == before
    with cat.transaction() as db:  # a raw write is taken as visible unless it says otherwise
        db.execute("UPDATE themes SET title = 'changed'")
    assert cat.revision() == before + 1


def test_migration_to_v5_keeps_one_piece_per_job_and_reports_the_others(tmp_path: Path) -> None:
    """Before schema 5 a worker killed between storing a piece and finishing its job made a second piece on its
    next attempt: the migration keeps the one the job names, sets the other aside (not lost), and `check` says so."""
    path = tmp_path / "studio" / "catalog.sqlite"
    db = _old_catalog(path, 4)
    db.execute("INSERT INTO jobs (prompt, status, attempts, worker, created, updated) "
               "VALUES ('a reef:1', 'done', 2, 'gpu0:1', 'then', 'then')")
    db.execute("INSERT INTO jobs (prompt, status, attempts, worker, created, updated) "
               "VALUES ('a glacier:1', 'running', 1, 'gpu0:2', 'then', 'then')")
    for slug in ("reef-aaaaaa", "reef-bbbbbb"):  # the first attempt's piece, then the one the job was finished with
        db.execute("INSERT INTO pieces (slug, file, sha256, prompt, job_id, created, updated) "
                   "VALUES (?, ?, 'f00', 'a reef:1', 1, 'then', 'then')", (slug, f"pieces/{slug}/image.png"))
    db.execute("UPDATE jobs SET piece_id = 2 WHERE id = 1")
    db.close()

    with Catalog(path) as cat:
        assert cat.get_piece_by_slug("reef-bbbbbb").job_id == 1
        aside = cat.get_piece_by_slug("reef-aaaaaa")
        assert aside is not None and aside.job_id is None  # kept, with its files and status
        problems = [p for p in cat.check() if "owned two pieces" in p]
        assert problems == ["job 1 owned two pieces: piece reef-aaaaaa was set aside (schema 5 keeps one piece per "
                            "job); keep it or reject it with `dstrtd catalog accept|reject reef-aaaaaa`"]
        running = cat.get_job(2)
        assert running.status == "running" and running.lease_until == 0  # claimed before leases: expired at once
        assert cat.claim_job("gpu1:1").id == 2
