"""The records' rules: slugs, tidy reflections, control characters, job progress as a fraction."""

from __future__ import annotations

from curation.catalog import Job, control_characters, slugify, tidy_reflection


def test_slugify() -> None:
    assert slugify("Old-growth Forest!") == "old-growth-forest"
    assert slugify("***") == "piece"
    assert slugify("a very long prompt about a coral reef at dawn", 16) == "a-very-long"


def test_tidy_reflection_keeps_paragraphs_only() -> None:
    assert tidy_reflection(" a\n b \r\n\r\n\n c\t d ") == "a b\n\nc d"
    assert tidy_reflection(" \n\n ") == ""


def test_control_characters_are_named() -> None:
    assert control_characters("a\x00b\nc\x1b") == ["U+0000", "U+000A", "U+001B"]
    assert control_characters("a\nb", allow="\n") == []


def test_job_fraction() -> None:
    job = Job(1, "x:1", None, {}, "running", 1, "", "w", None, "t", "t", step=3, steps=4)
    assert job.fraction == 0.75 and Job(1, "x:1", None, {}, "queued", 0, "", "", None, "t", "t").fraction is None
