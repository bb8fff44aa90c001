"""The facade: its parts implement their interfaces, and `revision()` moves with what the gallery shows and with
nothing else."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from curation.catalog import Catalog, JobQueue, PieceStore, Theme
from curation.catalog.jobs import SqlJobQueue
from curation.catalog.pieces import SqlPieceStore

# What a worker, the exports and the web do all day: none of it changes a picture on the wall.
UNSEEN: dict[str, Callable[[Catalog, int, int], object]] = {
    "enqueue": lambda cat, job, piece: cat.enqueue("a reef:1", theme="coral-reef"),
    "claim": lambda cat, job, piece: cat.claim_job("w1"),
    "progress": lambda cat, job, piece: cat.set_job_progress(job, 1, 10, 0.5),
    "finish": lambda cat, job, piece: cat.finish_job(job, piece),
    "fail": lambda cat, job, piece: cat.fail_job(job, "NaN", requeue=False),
    "requeue": lambda cat, job, piece: cat.fail_job(job, "NaN", requeue=True, settings={"seed": 2}),
    "requeue running": lambda cat, job, piece: cat.requeue_running(),
    "export": lambda cat, job, piece: cat.add_export(piece, "poster", "exports/p.pdf"),
    "engagement": lambda cat, job, piece: cat.add_engagement(piece, "instagram", "X", likes=1, comments=0),
    "post command": lambda cat, job, piece: cat.post_command("display", "next"),
    "take commands": lambda cat, job, piece: cat.take_commands("display"),
}

SEEN: dict[str, Callable[[Catalog, int, int], object]] = {
    "status": lambda cat, job, piece: cat.set_status(piece, "featured"),
    "title": lambda cat, job, piece: cat.set_title(piece, "Bleached"),
    "reflection": lambda cat, job, piece: cat.set_reflection(piece, "White."),
    "decision": lambda cat, job, piece: cat.decide(piece, "rejected", ["by hand"]),
    "score": lambda cat, job, piece: cat.add_score(piece, "aesthetic", 6.0),
    "clusters": lambda cat, job, piece: cat.set_clusters("fused", {piece: 1}),
    "theme": lambda cat, job, piece: cat.upsert_theme(Theme(name="coral-reef", title="Reef", reflection="New.")),
}


@pytest.fixture()
def busy(cat: Catalog, png: Callable[..., Path]) -> tuple[Catalog, int, int]:
    """A catalog with a running job (and a command waiting) and one piece."""
    job = cat.enqueue("a reef:1", theme="coral-reef")
    cat.claim_job("w0")
    cat.post_command("display", "pause")
    piece = cat.add_piece({"image.png": png()}, prompt="a reef:1", theme="coral-reef", job_id=job)
    return cat, job, piece.id


@pytest.mark.parametrize("write", UNSEEN, ids=list(UNSEEN))
def test_job_export_and_command_writes_leave_the_revision_alone(busy: tuple[Catalog, int, int], write: str) -> None:
    cat, job, piece = busy
    before = cat.revision()
    UNSEEN[write](cat, job, piece)
    assert cat.revision() == before


@pytest.mark.parametrize("write", SEEN, ids=list(SEEN))
def test_writes_the_gallery_shows_move_the_revision(busy: tuple[Catalog, int, int], write: str) -> None:
    cat, job, piece = busy
    before = cat.revision()
    SEEN[write](cat, job, piece)
    assert cat.revision() == before + 1


def test_a_new_piece_moves_the_revision(cat: Catalog, png: Callable[..., Path]) -> None:
    before = cat.revision()
    cat.add_piece({"image.png": png()}, prompt="a reef:1")
    assert cat.revision() == before + 1


def test_a_worker_making_a_piece_moves_it_once(cat: Catalog, png: Callable[..., Path]) -> None:
    before = cat.revision()
    job = cat.enqueue("a reef:1", theme="coral-reef")
    cat.claim_job("w1")
    for step in range(1, 11):
        cat.set_job_progress(job, step, 10, 1 / step)
    piece = cat.add_piece({"image.png": png()}, prompt="a reef:1", job_id=job)
    cat.finish_job(job, piece.id)
    assert cat.revision() == before + 1  # the gallery reloads its pieces once, for the new piece


def test_abspath_stays_in_the_studio(cat: Catalog) -> None:
    assert cat.abspath("pieces/a/image.png") == (cat.root / "pieces/a/image.png").resolve()
    with pytest.raises(Exception, match="leaves the studio"):
        cat.abspath("../outside.png")


@pytest.mark.parametrize(("interface", "sqlite"), [(JobQueue, SqlJobQueue), (PieceStore, SqlPieceStore)])
def test_the_sqlite_parts_implement_their_interfaces(interface: type, sqlite: type) -> None:
    wanted = [name for name in vars(interface) if not name.startswith("_")]
    assert len(wanted) >= 10
    for name in wanted:
        assert inspect.signature(getattr(sqlite, name)) == inspect.signature(getattr(interface, name)), name
