"""Audience ratings: engagement read back from Instagram -> a ratings file the aesthetic scorer trains on."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from installation.cli import main
from installation.engagement.audience import audience_ratings, rank_scores, write_ratings_csv
from installation.engagement.config import RatingsConfig
from installation.engagement.errors import EngagementError


def _read(catalog, piece, code: str, likes: int, comments: int = 0, *, taken: str = "2026-10-01T12:00:00+00:00",
          fetched: str = "2026-10-20T12:00:00+00:00", hidden: bool = False) -> None:
    details = {"taken_at": taken, **({"likes_hidden": True} if hidden else {})}
    catalog.add_engagement(piece.id, "instagram", code, likes=likes, comments=comments, details=details,
                           fetched=fetched)


def test_rank_scores_span_the_scale_and_share_ties() -> None:
    assert rank_scores([5.0, 1.0, 9.0]) == [5.5, 1.0, 10.0]
    assert rank_scores([3.0, 3.0, 7.0, 0.0]) == [5.5, 5.5, 10.0, 1.0]  # the tied pair shares ranks 1 and 2
    assert rank_scores([42.0]) == [5.5]


def test_latest_reading_per_post_summed_per_piece_recent_and_hidden_left_out(catalog, add_piece) -> None:
    reef, glacier, forest, young, hidden = (add_piece(catalog) for _ in range(5))
    _read(catalog, reef, "REEF1", 10, fetched="2026-10-05T12:00:00+00:00")
    _read(catalog, reef, "REEF1", 40, 2)  # the later reading of the same post replaces the first
    _read(catalog, reef, "REEF2", 5)  # a second post of the same piece adds up
    _read(catalog, glacier, "GLAC1", 80)
    _read(catalog, forest, "FORE1", 1, 1)
    _read(catalog, young, "YOUNG", 999, taken="2026-10-19T12:00:00+00:00")  # one day old when read
    _read(catalog, hidden, "HIDE1", 0, hidden=True)
    report = audience_ratings(catalog, RatingsConfig(comment_weight=3.0, min_age_days=3.0))
    by_slug = {r.slug: r for r in report.ratings}
    assert set(by_slug) == {reef.slug, glacier.slug, forest.slug}
    assert (by_slug[reef.slug].likes, by_slug[reef.slug].comments, by_slug[reef.slug].posts) == (45, 2, 2)
    assert by_slug[reef.slug].engagement == 51.0
    assert [r.slug for r in report.ratings] == [glacier.slug, reef.slug, forest.slug]  # best first
    assert [r.score for r in report.ratings] == [10.0, 5.5, 1.0]
    assert report.skipped["too recent"] == ["YOUNG"] and report.skipped["likes hidden"] == ["HIDE1"]
    assert "3 piece(s) rated by the audience (left out: 1 too recent; 1 likes hidden)" == report.summary()


def test_the_file_is_what_the_scorer_trainer_reads(catalog, add_piece, tmp_path: Path) -> None:
    from training.scorer.data import load_ratings

    pieces = [add_piece(catalog, theme=t) for t in ("coral-reef", "coral-reef", "glacier")]
    for i, p in enumerate(pieces):
        _read(catalog, p, f"CODE{i}", 10 * (i + 1))
    path = write_ratings_csv(tmp_path / "audience" / "ratings.csv", audience_ratings(catalog).ratings)
    rows = list(csv.DictReader(path.open()))
    assert [r["source"] for r in rows] == ["instagram"] * 3
    samples, report = load_ratings(path)
    assert report.rows == 3 and len(samples) == 3
    assert sorted(s.score for s in samples) == [1.0, 5.5, 10.0]
    assert all(s.image.is_file() for s in samples)
    assert {s.groups["theme"] for s in samples} == {"coral-reef", "glacier"}  # theme groups balance (seed 001)
    assert {s.groups["source"] for s in samples} == {"instagram"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["ratings.csv"]  # no temporary file left


def test_too_few_pieces_say_what_to_do(catalog, add_piece, tmp_path: Path) -> None:
    _read(catalog, add_piece(catalog), "ONLY1", 3)
    with pytest.raises(EngagementError, match="needs at least 2"):
        write_ratings_csv(tmp_path / "r.csv", audience_ratings(catalog).ratings)
    assert not (tmp_path / "r.csv").exists()


def test_cli_exports_without_reading_posts(studio, catalog, add_piece, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    a, b = add_piece(catalog), add_piece(catalog)
    _read(catalog, a, "AAA11", 3, 0)
    _read(catalog, b, "BBB22", 1, 1)  # 1 like + 3 x 1 comment = 4 > 3
    out = tmp_path / "ratings.csv"
    assert main(["engagement", "--studio", str(studio.root), "--export-ratings", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 piece(s) rated by the audience" in text and f"dstrtd train scorer --data {out}" in text
    rows = list(csv.DictReader(out.open()))
    assert [(r["slug"], r["score"]) for r in rows] == [(b.slug, "10.000"), (a.slug, "1.000")]
    assert main(["engagement", "--studio", str(studio.root), "--export-ratings", str(out),
                 "--comment-weight", "0"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["slug"] for r in rows] == [a.slug, b.slug]
    assert main(["engagement", "--studio", str(studio.root)]) == 2
    assert "--export-ratings CSV" in capsys.readouterr().err


def test_nonsense_weights_and_no_spread_are_refused(catalog, add_piece, tmp_path: Path) -> None:
    for weight in (float("nan"), float("inf"), -1.0):
        with pytest.raises(EngagementError, match="must be numbers >= 0"):
            audience_ratings(catalog, RatingsConfig(comment_weight=weight))
    a, b = add_piece(catalog), add_piece(catalog)
    _read(catalog, a, "SAME1", 4)
    _read(catalog, b, "SAME2", 4)
    with pytest.raises(EngagementError, match="equally engaging"):
        write_ratings_csv(tmp_path / "r.csv", audience_ratings(catalog).ratings)
