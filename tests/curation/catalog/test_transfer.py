"""`dstrtd catalog migrate --to URL`: a SQLite studio copied onto PostgreSQL whole (every table, ids, the pieces'
files), compared before the commit, the studio left byte for byte as it was; a busy target or a missing file copies
nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from curation.catalog import Catalog, CatalogError, Theme
from installation.cli import main


def _tree(root: Path) -> dict[str, str]:
    """Every file's checksum but SQLite's own -wal/-shm (a reader of a WAL database may leave them, empty)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.fixture()
def old_studio(tmp_path: Path, png: Callable[..., Path]) -> Path:
    """A SQLite studio that has lived: themes, jobs in every state, pieces with files, scores, decisions, clusters,
    exports, engagement, commands, a worker, a revision."""
    root = tmp_path / "studio"
    with Catalog(root / "catalog.sqlite") as cat:
        cat.upsert_theme(Theme(name="glacier", title="Glacier", prompts=("a glacier:1",), reflection="Old ice."))
        done, running, queued, failed = (cat.enqueue(f"job {i}:1", theme="glacier", settings={"seed": i})
                                         for i in range(4))
        cat.register_worker("gpu0:1", host="gpu0", pid=1, device="cuda:0", capabilities={"memory_mb": 8192})
        cat.claim_job("gpu0:1")
        piece, _ = cat.store_piece(done, {"image.png": png(size=(16, 12)), "settings.json": b"{}"}, prompt="a:1",
                                   theme="glacier", seed=0, settings={"steps": 3})
        cat.claim_job("gpu0:1")
        cat.set_job_progress(running, 5, 10, 0.25)
        cat.cancel_job(failed, "changed my mind")
        cat.add_score(piece.id, "aesthetic", 6.5, version="tiny@1", details={"dist": [0.1, 0.9]})
        cat.decide(piece.id, "featured", ["by hand"])
        cat.set_title(piece.id, "Blue hour")
        cat.set_clusters("fused", {piece.id: 2}, {piece.id: 0.5})
        cat.add_export(piece.id, "poster", "exports/p.pdf")
        cat.add_engagement(piece.id, "instagram", "ABC", likes=3, comments=1)
        cat.post_command("display", "next")
        assert queued
    return root


def test_migrate_copies_everything_and_leaves_the_studio_as_it_was(old_studio: Path, catalog_url: str,
                                                                   tmp_path: Path, capsys) -> None:
    before = _tree(old_studio)
    empty = catalog_url.replace("/t", "/m", 1)  # a database created empty, as `createdb` makes it
    import psycopg

    name = empty.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(catalog_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    assert main(["catalog", "migrate", "--studio", str(old_studio), "--to", empty]) == 0
    out = capsys.readouterr().out
    assert "DIFFERENT" not in out and out.count(" same") == 13 and "the studio is left as it was" in out
    assert _tree(old_studio) == before  # not a byte changed, catalog file and pieces alike

    with Catalog(old_studio / "catalog.sqlite", readonly=True) as old, \
            Catalog(empty, root=tmp_path / "gallery") as new:
        assert new.revision() == old.revision()
        assert [(j.id, j.status, j.worker, j.attempts, j.error, j.settings) for j in new.list_jobs()] == [
            (j.id, j.status, j.worker, j.attempts, j.error, j.settings) for j in old.list_jobs()]
        (piece,) = new.list_pieces("featured")
        assert (piece.title, piece.scores, piece.job_id) == ("Blue hour", {"aesthetic": 6.5}, 1)
        assert new.abspath(piece.file).read_bytes() == (old_studio / piece.file).read_bytes()
        assert new.clusters() == {piece.id: 2} and new.engagement(piece.id)[0]["likes"] == 3
        assert new.take_commands("display") == [("next", {})]
        assert new.list_workers()[0].capabilities == {"memory_mb": 8192}
        assert new.enqueue("next:1") == 5  # ids go on from the studio's
        assert new.check() == []


def test_migrate_refuses_a_catalog_that_is_not_empty_or_a_studio_missing_a_file(old_studio: Path,
                                                                                catalog_url: str) -> None:
    from curation.catalog.transfer import migrate

    with Catalog(catalog_url, root=old_studio) as busy:
        busy.enqueue("already here:1")
    with pytest.raises(CatalogError, match=r"is not empty \(jobs hold rows\)"):
        migrate(old_studio / "catalog.sqlite", old_studio, catalog_url)
    with Catalog(catalog_url, root=old_studio) as busy, busy.transaction(visible=False) as db:
        db.execute("DELETE FROM jobs")
    image = next((old_studio / "pieces").glob("*/image.png"))
    image.unlink()
    with pytest.raises(CatalogError, match="files cannot be copied, so nothing was: piece .* is missing"):
        migrate(old_studio / "catalog.sqlite", old_studio, catalog_url)
    with Catalog(catalog_url, root=old_studio) as target:
        assert target.list_jobs() == [] and target.count_pieces() == 0
