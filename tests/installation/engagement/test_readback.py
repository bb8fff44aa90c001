"""Engagement read-back, offline: instaloader `Post` structures saved as JSON (instaloader's own format) replayed
through `JsonPostSource`; matching by shortcode and by caption, failures that keep what was read, resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import instaloader
import pytest
from instaloader import exceptions as ie

from installation.cli import main
from installation.engagement.config import ReadbackConfig
from installation.engagement.errors import EngagementError
from installation.engagement.readback import describe_failure, mark_published, parse_shortcode, read_engagement
from installation.engagement.sources import JsonPostSource
from installation.export.social import export_social

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def node(code: str, caption: str, likes: int | None = 10, comments: list[str] = (), age_h: float = 48) -> dict:
    n: dict[str, Any] = {
        "__typename": "GraphImage", "id": str(abs(hash(code)) % 10**12), "shortcode": code, "is_video": False,
        "display_url": f"https://cdn.example/{code}.jpg",
        "taken_at_timestamp": int((NOW - timedelta(hours=age_h)).timestamp()),
        "edge_media_to_caption": {"edges": [{"node": {"text": caption}}] if caption else []},
        "edge_media_to_comment": {"count": len(comments), "edges": [
            {"node": {"id": str(i), "text": t, "created_at": 1_700_000_000 + i,
                      "owner": {"id": "1", "username": "fan"}}}
            for i, t in enumerate(comments)]},
    }
    n["edge_media_to_parent_comment"] = n["edge_media_to_comment"]  # as in a full metadata answer
    if likes is not None:
        n["edge_media_preview_like"] = {"count": likes}
    return n


def save_posts(path: Path, nodes: list[dict]) -> Path:
    """Save nodes the way instaloader does: through `Post` and `get_json_structure`."""
    context = instaloader.InstaloaderContext(sleep=False, quiet=True)
    path.write_text(json.dumps([instaloader.get_json_structure(instaloader.Post(context, n)) for n in nodes]))
    return path


def read(catalog, source, *, wait=None, **settings):  # type: ignore[no-untyped-def]
    settings.setdefault("sleep", 0.0)
    return read_engagement(catalog, source, ReadbackConfig(**settings), now=NOW, wait=wait or (lambda s: None))


@pytest.fixture()
def published(catalog, add_piece, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Three pieces with social posts exported: reef (published as REEF001), glacier and wetland (not marked)."""
    reef, glacier, wetland = (add_piece(catalog, theme=t) for t in ("coral-reef", "glacier", "wetland"))
    export_social(catalog, [reef, glacier, wetland], tmp_path / "social")
    mark_published(catalog, reef.slug, "REEF001")
    captions = {p.slug: (tmp_path / "social" / p.slug / "caption.txt").read_text() for p in (reef, glacier, wetland)}
    return reef, glacier, wetland, captions


def test_matches_by_shortcode_and_by_caption(catalog, published, tmp_path: Path) -> None:
    reef, glacier, wetland, captions = published
    edited = captions[glacier.slug].replace("Glaciers hold", "Glaciers  hold").strip() + " 🌍"  # edited on posting
    posts = save_posts(tmp_path / "posts.json", [
        node("REEF001", "a caption rewritten after posting", likes=42, comments=["wow", "so strange"], age_h=30),
        node("GLAC002", edited, likes=7, age_h=20),
        node("OTHER03", "a post about something else entirely", age_h=10),
    ])
    report = read(catalog, JsonPostSource(posts), comments=5)
    assert report.error is None, report.error
    assert sorted(report.stored) == sorted([("REEF001", reef.slug, "shortcode"), ("GLAC002", glacier.slug, "caption")])
    assert report.unmatched == ["OTHER03"]
    [row] = catalog.engagement(reef.id)
    assert (row["platform"], row["external_id"], row["likes"], row["comments"]) == ("instagram", "REEF001", 42, 2)
    assert row["details"]["comment_texts"] == ["wow", "so strange"]
    assert row["details"]["matched_by"] == "shortcode"
    [glacier_row] = catalog.engagement(glacier.id)
    assert glacier_row["likes"] == 7 and glacier_row["details"]["matched_by"] == "caption"
    links = {e["external_id"]: e["piece_id"] for e in catalog.exports(kind="instagram")}
    assert links == {"REEF001": reef.id, "GLAC002": glacier.id}  # the caption match is remembered by shortcode
    assert not catalog.engagement(wetland.id)


def test_identical_captions_are_ambiguous_until_marked(catalog, add_piece, tmp_path: Path) -> None:
    a, b = add_piece(catalog), add_piece(catalog)  # same theme: same caption
    export_social(catalog, [a, b], tmp_path / "social")
    caption = (tmp_path / "social" / a.slug / "caption.txt").read_text()
    posts = save_posts(tmp_path / "posts.json", [node("SAME001", caption)])
    report = read(catalog, JsonPostSource(posts))
    assert report.ambiguous == {"SAME001": sorted([a.slug, b.slug], key=[a.slug, b.slug].index)}
    assert not report.stored
    mark_published(catalog, a.slug, "OTHER99")  # a is another post, so SAME001 can only be b
    report = read(catalog, JsonPostSource(posts))
    assert report.stored == [("SAME001", b.slug, "caption")]


def test_a_failure_midway_keeps_what_was_read(catalog, published, tmp_path: Path) -> None:
    reef, glacier, _, captions = published
    mark_published(catalog, glacier.slug, "GLAC002")
    posts = save_posts(tmp_path / "posts.json", [
        node("REEF001", "", likes=5, age_h=1),  # newest: read first
        node("GLAC002", "", likes=None, age_h=2),  # its like count is missing: reading it needs Instagram
        node("ZZZ0003", captions[glacier.slug], age_h=3),
    ])
    report = read(catalog, JsonPostSource(posts))
    assert report.stored == [("REEF001", reef.slug, "shortcode")]
    assert report.error and "could not read from Instagram" in report.error and "stored" in report.error
    assert [r["likes"] for r in catalog.engagement(reef.id)] == [5]
    assert not catalog.engagement(glacier.id)


def test_instagram_refusing_midway_keeps_earlier_rows(catalog, published, tmp_path: Path) -> None:
    reef, glacier, _, _ = published
    mark_published(catalog, glacier.slug, "GLAC002")
    saved = JsonPostSource(save_posts(tmp_path / "posts.json", [node("REEF001", "", age_h=1),
                                                                node("GLAC002", "", age_h=2)]))

    class Refusing:
        def posts(self) -> Iterator[Any]:
            first = next(iter(saved.posts()))
            yield first
            raise ie.QueryReturnedForbiddenException("403 Forbidden")

    report = read(catalog, Refusing())
    assert report.stored == [("REEF001", reef.slug, "shortcode")]
    assert "403" in report.error
    assert len(catalog.engagement(reef.id)) == 1


def test_changed_fields_fail_that_post_only(catalog, published) -> None:
    reef, glacier, _, _ = published
    mark_published(catalog, glacier.slug, "GLAC002")

    class Changed:
        shortcode, caption, comments = "GLAC002", "", 0
        date_utc = NOW

        @property
        def likes(self) -> int:
            raise KeyError("edge_media_preview_like")

    class Post:
        shortcode, caption, likes, comments, date_utc = "REEF001", "", 3, 0, NOW

    class Source:
        def posts(self) -> Iterator[Any]:
            yield Changed()
            yield Post()

    report = read(catalog, Source())
    assert "edge_media_preview_like" in report.failed["GLAC002"] and report.error is None
    assert report.stored == [("REEF001", reef.slug, "shortcode")]


def test_resume_skips_posts_read_recently(catalog, published, tmp_path: Path) -> None:
    reef, glacier, _, _ = published
    mark_published(catalog, glacier.slug, "GLAC002")
    catalog.add_engagement(reef.id, "instagram", "REEF001", likes=1, comments=0,
                           fetched=(NOW - timedelta(hours=1)).isoformat())
    catalog.add_engagement(glacier.id, "instagram", "GLAC002", likes=1, comments=0,
                           fetched=(NOW - timedelta(hours=30)).isoformat())
    posts = save_posts(tmp_path / "posts.json", [node("REEF001", "", likes=9, age_h=5),
                                                 node("GLAC002", "", likes=9, age_h=6)])
    sleeps: list[float] = []
    report = read(catalog, JsonPostSource(posts), skip_recent_hours=12, sleep=0.5, wait=sleeps.append)
    assert report.skipped_recent == ["REEF001"]
    assert report.stored == [("GLAC002", glacier.slug, "shortcode")]
    assert [r["likes"] for r in catalog.engagement(reef.id)] == [1]
    assert [r["likes"] for r in catalog.engagement(glacier.id)] == [1, 9]
    assert sleeps == [0.5]  # after GLAC002 only: the skipped REEF001 cost no request
    report = read(catalog, JsonPostSource(posts), skip_recent_hours=0, sleep=0.5, wait=sleeps.append,
                  max_posts=1)
    assert len(report.stored) == 1 and sleeps == [0.5]  # stops at max_posts without asking for another


def test_pauses_between_posts(catalog, published, tmp_path: Path) -> None:
    posts = save_posts(tmp_path / "posts.json", [node(f"POST00{i}", "", age_h=i) for i in range(3)])
    sleeps: list[float] = []
    read(catalog, JsonPostSource(posts), sleep=1.5, wait=sleeps.append)
    assert sleeps == [1.5, 1.5, 1.5]  # before each request after the first (the last finds no more posts)


def test_mark_published_and_shortcodes(catalog, published) -> None:
    reef, glacier, _, _ = published
    assert parse_shortcode("https://www.instagram.com/p/CxYz123AbC/?igsh=1") == "CxYz123AbC"
    assert parse_shortcode("https://instagram.com/dstrtd/reel/Abc_-12345/") == "Abc_-12345"
    with pytest.raises(EngagementError, match="not an Instagram shortcode"):
        parse_shortcode("no spaces please")
    assert mark_published(catalog, reef.slug, "REEF001") == "REEF001"  # again: no duplicate record
    assert len(catalog.exports(kind="instagram")) == 1
    with pytest.raises(EngagementError, match=f"already recorded for piece {reef.slug}"):
        mark_published(catalog, glacier.slug, "https://www.instagram.com/p/REEF001/")
    with pytest.raises(EngagementError, match="no piece with slug"):
        mark_published(catalog, "nope", "ABCDEF")


def test_describe_failure_says_what_to_do() -> None:
    assert "--session-file" in describe_failure(ie.LoginRequiredException("login required"))
    assert "429" in describe_failure(ie.TooManyRequestsException("too many"))
    assert "401" in describe_failure(ie.ConnectionException("401 Unauthorized"))
    assert "no such Instagram profile" in describe_failure(ie.ProfileNotExistsException("x"))


def test_cli_reads_saved_posts_and_marks_published(studio, catalog, published, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    reef, glacier, _, _ = published
    assert main(["export", "mark-published", "--studio", str(studio.root), glacier.slug, "GLAC002"]) == 0
    posts = save_posts(tmp_path / "posts.json", [node("REEF001", "", age_h=1), node("GLAC002", "", age_h=2)])
    assert main(["engagement", "--studio", str(studio.root), "--from-json", str(posts), "--sleep", "0"]) == 0
    assert "stored 2 posts" in capsys.readouterr().out
    assert main(["engagement", "--studio", str(studio.root), "--from-json", str(posts), "--sleep", "0"]) == 0
    assert "skipped 2 read recently" in capsys.readouterr().out
    broken = save_posts(tmp_path / "broken.json", [node("REEF001", "", likes=None, age_h=1)])
    assert main(["engagement", "--studio", str(studio.root), "--from-json", str(broken), "--sleep", "0",
                 "--skip-recent-hours", "0"]) == 1
    assert "stopped early" in capsys.readouterr().err
    assert main(["engagement", "--studio", str(studio.root)]) == 2
    assert "--profile" in capsys.readouterr().err
