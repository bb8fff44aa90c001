"""Rated data: ratings files (CSV, JSONL; histograms or means; groups), rating folders, splits, bad input."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from training.scorer.data import (
    RatedImageDataset,
    RatingsDataError,
    collate_rated,
    load_ratings,
    split_samples,
    two_point_distribution,
)


def png(path, colour=(120, 30, 200), size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture()
def images(tmp_path):
    for i in range(4):
        png(tmp_path / "img" / f"{i}.png", (60 * i, 10, 10))
    return tmp_path


def test_csv_with_scores_histograms_and_groups(images, caplog):
    votes = ",".join(f"votes_{k}" for k in range(1, 11))
    (images / "ratings.csv").write_text(
        f"image,score,theme,source,{votes}\n"
        "img/0.png,7.5,reef,artist,,,,,,,,,,\n"
        "img/1.png,,forest,ava,0,0,0,0,1,0,3,0,0,0\n"  # votes only: mean (5 + 21) / 4 = 6.5
        "img/2.png,11,reef,artist,,,,,,,,,,\n"  # out of range
        "img/3.png,,reef,ava,0,0,0,0,0,0,0,0,0,0\n"  # all-zero votes
        "img/3.png,abc,reef,ava,,,,,,,,,,\n"  # not a number
    )
    with caplog.at_level(logging.WARNING):
        samples, report = load_ratings(images / "ratings.csv")
    assert [s.score for s in samples] == [7.5, 6.5]
    assert samples[0].groups == {"theme": "reef", "source": "artist"} and samples[1].groups["source"] == "ava"
    assert samples[0].image == images / "img" / "0.png"
    assert report.rows == 5 and len(report.bad_rows) == 3 and report.kept == 2
    assert "ratings.csv:4" in report.bad_rows[0][0] and "outside [1, 10]" in report.bad_rows[0][1]
    assert "all zero" in report.bad_rows[1][1]
    assert "skipping ratings.csv:4" in caplog.text and "3 of 5 rows skipped" in caplog.text
    # the histogram is the target distribution; a mean alone gives the two-point distribution with that mean
    assert torch.allclose(samples[1].distribution(), torch.tensor([0, 0, 0, 0, 0.25, 0, 0.75, 0, 0, 0]))
    d0 = samples[0].distribution()
    assert d0[6].item() == pytest.approx(0.5) and d0[7].item() == pytest.approx(0.5)


def test_jsonl_with_votes_list_split_and_bad_lines(images):
    lines = [
        {"image": "img/0.png", "votes": [0, 0, 1, 1, 0, 0, 0, 0, 0, 0], "split": "val"},
        {"path": str(images / "img" / "1.png"), "mean": 2},
        "not json",
        [1, 2],
        {"image": "img/2.png", "votes": [1, 2, 3]},
        {"image": "img/3.png"},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    (images / "r.jsonl").write_text(text)
    samples, report = load_ratings(images / "r.jsonl")
    assert [s.score for s in samples] == [3.5, 2.0]
    assert samples[0].split == "val"
    reasons = " | ".join(why for _, why in report.bad_rows)
    assert "not JSON" in reasons and "expected a JSON object" in reasons and "votes must be 10 numbers" in reasons
    assert "neither a score" in reasons and report.rows == 6
    train, val = split_samples(samples)
    assert [s.score for s in val] == [3.5] and [s.score for s in train] == [2.0]


def test_folder_layout(tmp_path):
    png(tmp_path / "3" / "a.png")
    png(tmp_path / "9" / "reef" / "b.jpg")
    png(tmp_path / "10" / "c.png")
    (tmp_path / "9" / "notes.txt").write_text("hello")
    (tmp_path / "misc").mkdir()
    samples, report = load_ratings(tmp_path)
    by_score = {s.score: s for s in samples}
    assert sorted(by_score) == [3.0, 9.0, 10.0]
    assert by_score[9.0].groups == {"theme": "reef"} and by_score[3.0].groups == {}
    assert len(report.bad_rows) == 1 and "not an image" in report.bad_rows[0][1]
    assert torch.equal(by_score[10.0].distribution(), torch.eye(10)[9])


def test_folder_with_ratings_file_uses_it(images):
    (images / "ratings.csv").write_text("image,score\nimg/0.png,4\n")
    samples, _ = load_ratings(images)
    assert len(samples) == 1 and samples[0].score == 4


def test_missing_things_give_clear_errors(tmp_path, images):
    with pytest.raises(FileNotFoundError, match="rated data not found"):
        load_ratings(tmp_path / "nope.csv")
    (images / "r.csv").write_text("image,score\nimg/0.png,4\nimg/typo.png,5\nimg/gone.png,6\n")
    with pytest.raises(RatingsDataError, match=r"2 image file\(s\) named in .* do not exist: r.csv:3: .*typo.png"):
        load_ratings(images / "r.csv")
    samples, report = load_ratings(images / "r.csv", skip_missing=True)
    assert len(samples) == 1 and len(report.missing) == 2 and report.to_dict()["missing_images"] == 2
    (images / "none.csv").write_text("image,score\nimg/0.png,0\n")
    with pytest.raises(RatingsDataError, match="no usable rated images"):
        load_ratings(images / "none.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RatingsDataError, match="no rating subfolders named 1..10"):
        load_ratings(tmp_path / "empty")
    (images / "r.txt").write_text("x")
    with pytest.raises(RatingsDataError, match="must be a .csv or .jsonl"):
        load_ratings(images / "r.txt")


def test_group_column_must_be_filled(images):
    (images / "r.csv").write_text("image,score,theme\nimg/0.png,4,reef\nimg/1.png,5,\n")
    samples, report = load_ratings(images / "r.csv", group_columns=["theme"])
    assert len(samples) == 1 and "no value for group column" in report.bad_rows[0][1]


def test_split_is_seeded_and_disjoint(images):
    (images / "r.csv").write_text("image,score\n" + "".join(f"img/{i % 4}.png,{1 + i % 9}\n" for i in range(50)))
    samples, _ = load_ratings(images / "r.csv")
    a_train, a_val = split_samples(samples, 0.2, seed=3)
    b_train, b_val = split_samples(samples, 0.2, seed=3)
    _, c_val = split_samples(samples, 0.2, seed=4)
    assert len(a_val) == 10 and len(a_train) == 40
    assert [s.where for s in a_val] == [s.where for s in b_val] != [s.where for s in c_val]
    assert not {s.where for s in a_val} & {s.where for s in a_train}
    assert split_samples(samples, 0.0)[1] == []
    with pytest.raises(ValueError, match="val_fraction must be in"):
        split_samples(samples, 1.0)


def test_dataset_resizes_and_survives_unreadable_images(images):
    (images / "img" / "broken.png").write_bytes(b"not a png at all")
    (images / "r.csv").write_text("image,score\nimg/0.png,4\nimg/broken.png,5\nimg/1.png,6\n")
    samples, _ = load_ratings(images / "r.csv")
    ds = RatedImageDataset(samples, image_size=16, weights=torch.tensor([1.0, 2.0, 3.0]))
    item = ds[0]
    assert item["image"].shape == (3, 16, 16) and 0 <= item["image"].min() and item["image"].max() <= 1
    assert "error" in ds[1] and "UnidentifiedImageError" in ds[1]["error"]
    batch = collate_rated([ds[i] for i in range(3)])
    assert batch["image"].shape == (2, 3, 16, 16) and batch["index"].tolist() == [0, 2]
    assert batch["weight"].tolist() == [1.0, 3.0] and batch["failed"][0][0] == 1
    assert "image" not in collate_rated([ds[1]])


def test_two_point_distribution():
    d = two_point_distribution(torch.tensor([1.0, 5.25, 10.0, 12.0]))
    assert torch.allclose(d.sum(1), torch.ones(4))
    assert torch.allclose(d @ torch.arange(1, 11.0), torch.tensor([1.0, 5.25, 10.0, 10.0]))
    assert d[1, 4].item() == pytest.approx(0.75) and d[1, 5].item() == pytest.approx(0.25)


def test_dataset_sees_the_pixels_the_gallery_shows(tmp_path):
    # transparency lies on the display background (black), not on whatever colour the hidden pixels hold
    Image.new("RGBA", (16, 16), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    # 16-bit grey is scaled to 8 bits (half of 65535 is half of 255), not clipped to white
    Image.fromarray(np.full((16, 16), 32768, dtype=np.uint16)).save(tmp_path / "deep.png")
    # an EXIF orientation turns the picture upright: 24x12 stored, 12x24 shown, so its top stays dark
    stored = Image.new("RGB", (24, 12), (255, 255, 255))
    stored.paste((0, 0, 0), (0, 0, 12, 12))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    stored.save(tmp_path / "turned.jpg", exif=exif, quality=95)
    (tmp_path / "r.csv").write_text("image,score\nclear.png,4\ndeep.png,5\nturned.jpg,6\n")
    samples, _ = load_ratings(tmp_path / "r.csv")
    ds = RatedImageDataset(samples, image_size=8)
    assert torch.equal(ds[0]["image"], torch.zeros(3, 8, 8))
    assert ds[1]["image"].mean().item() == pytest.approx(128 / 255, abs=1 / 255)
    turned = ds[2]["image"]
    assert turned[:, :3].mean() < 0.1 and turned[:, -3:].mean() > 0.9
