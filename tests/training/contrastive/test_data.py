"""Manifests (CSV, JSONL, the tuxpaint folder), bad rows reported and skipped, alpha compositing, batch order."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from training.contrastive.data import (
    GlobalBatchSampler,
    ImageTextDataset,
    load_image,
    read_manifest,
    split_records,
    subset,
)
from training.contrastive.errors import CaptionsDataError


def test_csv_manifest_with_labels(pairs: Path) -> None:
    m = read_manifest(pairs)
    assert len(m.records) == 24 and not m.skipped
    assert m.records[0].image.is_absolute() and m.records[0].caption == "a red circle"
    assert m.labels is not None and set(m.labels) == {"circle", "square", "triangle", "bar"}
    assert read_manifest(pairs.parent).source == pairs  # a folder holding one manifest


def test_bad_rows_are_reported_and_skipped(pairs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png")
    lines = [
        json.dumps({"image": str(pairs.parent / "red-circle.png"), "caption": "a red circle"}),
        json.dumps({"image": str(pairs.parent / "blue-bar.png"), "caption": "a blue bar"}),
        json.dumps({"image": "missing.png", "caption": "gone"}),
        json.dumps({"image": str(pairs.parent / "red-square.png"), "caption": "  "}),
        "{not json",
        json.dumps({"image": "broken.png", "caption": "broken"}),
    ]
    manifest = tmp_path / "pairs.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        m = read_manifest(manifest)
    assert [r.caption for r in m.records] == ["a red circle", "a blue bar"]
    assert [n for n, _ in m.skipped] == [3, 4, 5, 6]
    reasons = dict(m.skipped)
    assert "image not found" in reasons[3] and "missing.png" in reasons[3]
    assert "no caption" in reasons[4] and "bad JSON" in reasons[5] and "unreadable image" in reasons[6]
    assert "skipped 4 of 6 rows" in caplog.text
    assert m.labels is None


def test_missing_manifest_and_unusable_ones_say_why(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="image-text data not found"):
        read_manifest(tmp_path / "nope.csv")
    bad = tmp_path / "cols.csv"
    bad.write_text("picture,words\na.png,hello\n")
    with pytest.raises(CaptionsDataError, match="needs an image column"):
        read_manifest(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("image,caption\nmissing.png,a thing\n")
    with pytest.raises(CaptionsDataError, match="no usable image-text pair.*image not found"):
        read_manifest(empty)
    (tmp_path / "pairs.txt").write_text("image,caption\n")
    with pytest.raises(CaptionsDataError, match="unknown manifest format"):
        read_manifest(tmp_path / "pairs.txt")


def test_the_real_tuxpaint_caption_folder(shared_data: Path) -> None:
    m = read_manifest(shared_data / "captions")
    assert len(m.records) == 188 and not m.skipped
    by_name = {r.image.name: r for r in m.records}
    frog = by_name["animals__amphibians__frog.png"]
    assert frog.caption == "A frog." and frog.label == "amphibians"
    assert by_name["plants__thyme.png"].label == "plants"
    assert by_name["naturalforces__fire.png"].label == "natural forces"


def test_alpha_is_composited_onto_the_background(pairs: Path) -> None:
    # the shapes sit on fully transparent pixels: the corner must come out as the background colour
    img = load_image(pairs.parent / "red-circle.png", 32, background=(0, 255, 0))
    assert img.shape == (3, 32, 32)
    torch.testing.assert_close(img[:, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    centre = img[:, 16, 16]
    assert centre[0] > 0.8 and centre[1] < 0.2
    cropped = load_image(pairs.parent / "red-circle.png", 32, resize="crop")
    assert cropped.shape == (3, 32, 32)


def test_dataset_returns_index_and_tokens(pairs: Path) -> None:
    records = read_manifest(pairs).records
    tokenizer = lambda texts: torch.arange(len(texts) * 4).view(len(texts), 4)  # noqa: E731
    ds = ImageTextDataset(records[:5], tokenizer, 16, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    image, tokens, index = ds[3]
    assert image.shape == (3, 16, 16) and tokens.tolist() == [12, 13, 14, 15] and index == 3
    assert image.min() >= -1.0 and image.max() <= 1.0


def test_split_and_subset_are_seeded_and_disjoint(pairs: Path) -> None:
    records = read_manifest(pairs).records
    train, val = split_records(records, 0.25, seed=3)
    assert len(val) == 6 and len(train) == 18 and not {r.image for r in train} & {r.image for r in val}
    assert split_records(records, 0.25, seed=3) == (train, val)
    assert len(subset(train, 0.5, seed=3)) == 9 and subset(train, 1.0, seed=3) == train


def test_sampler_ranks_split_the_single_process_batches() -> None:
    single = GlobalBatchSampler(10, 4, seed=1)
    single.set_epoch(2)
    batches = list(single)
    assert len(batches) == 2 and all(len(b) == 4 for b in batches)  # the last 2 samples are dropped
    ranks = [GlobalBatchSampler(10, 4, seed=1, rank=r, world_size=2) for r in range(2)]
    for s in ranks:
        s.set_epoch(2)
    per_rank = [list(s) for s in ranks]
    assert [a + b for a, b in zip(*per_rank, strict=True)] == batches
    single.set_epoch(2, start_batch=1)
    assert list(single) == batches[1:] and len(single) == 1
    single.set_epoch(3)
    assert list(single) != batches
    with pytest.raises(CaptionsDataError, match="larger than the 3 training pairs"):
        GlobalBatchSampler(3, 4)
    with pytest.raises(CaptionsDataError, match="does not split evenly"):
        GlobalBatchSampler(10, 5, world_size=2)
