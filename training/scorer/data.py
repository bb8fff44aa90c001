"""Rated images for the aesthetic scorer: ratings files, the artist's rating folders, splits and a Dataset.

Sources (`load_ratings`):

- a CSV or JSONL ratings file. One row per image: an image column (`image`, `path`, `file` or `filename`; relative
  paths are relative to the file's folder) and either a mean score in [1, 10] (`score`, `mean`, `mean_score` or
  `rating`) or a histogram of votes over 1..10 (AVA style: columns `votes_1`..`votes_10` or `1`..`10`, or one `votes`
  column / JSON list of ten numbers), or both. Optional group columns (default: whichever of `theme`, `source`, `group`
  exist) and an optional `split` column (`train` / `val`).
- a folder laid out as `<root>/<rating 1-10>/**/*.png|jpg|jpeg|webp` (the artist's own ratings); an image in a
  subfolder `<root>/<rating>/<theme>/...` gets that theme as its group. A folder holding `ratings.csv` or
  `ratings.jsonl` is read as that file.

Bad rows are logged with their row number, counted in the `DataReport` and skipped. Image files that are missing are an
error that lists them (a typo in a ratings file should not silently shrink the data), unless `skip_missing=True`.
Images are decoded as the gallery shows them (`generator.common.images.open_rgb`: EXIF orientation, transparency on
the display background, 16-bit, ICC profiles to sRGB), so the scorer learns on the pixels visitors see. Images that
cannot be decoded show up only when read: the dataset returns a failure record instead of raising, the collate
function drops it and the trainer counts it, so no epoch ever crashes on one bad file.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from curation.embeddings import pil_to_tensor
from curation.scorer.ratings import N_BINS, SCORE_MAX, SCORE_MIN
from generator.common.errors import UnreadableImage
from generator.common.files import read_text
from generator.common.images import open_rgb
from training.errors import TrainingError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
IMAGE_COLUMNS = ("image", "path", "file", "filename")
SCORE_COLUMNS = ("score", "mean", "mean_score", "rating")
DEFAULT_GROUP_COLUMNS = ("theme", "source", "group")
VAL_SPLITS = ("val", "valid", "validation", "test")
TRAIN_SPLITS = ("train", "training")


class RatingsDataError(TrainingError):
    """Rated data that cannot be used as given; the message says what to fix."""


@dataclass(frozen=True)
class RatedSample:
    """One rated image. `histogram` holds vote counts over 1..10 when the source has them."""

    image: Path
    score: float
    histogram: tuple[float, ...] | None = None
    groups: Mapping[str, str] = field(default_factory=dict)
    split: str | None = None
    where: str = ""  # "ratings.csv:12" or the folder, for messages

    def distribution(self) -> torch.Tensor:
        """Target probabilities (10,) over 1..10: the normalised histogram, else the two-point distribution on the
        ratings either side of the score with exactly that mean (a one-hot for an integer score)."""
        if self.histogram is not None:
            h = torch.tensor(self.histogram, dtype=torch.float32)
            return h / h.sum()
        return two_point_distribution(torch.tensor([self.score]))[0]


def two_point_distribution(scores: torch.Tensor) -> torch.Tensor:
    """(B,) scores in [1, 10] -> (B, 10) probabilities on floor/ceil of each score whose mean is the score."""
    s = scores.clamp(SCORE_MIN, SCORE_MAX) - 1.0
    lower = s.floor().clamp(max=N_BINS - 2)
    upper_mass = s - lower
    out = torch.zeros(scores.shape[0], N_BINS, dtype=scores.dtype)
    idx = lower.long()[:, None]
    out.scatter_(1, idx, (1.0 - upper_mass)[:, None])
    out.scatter_add_(1, idx + 1, upper_mass[:, None])
    return out


@dataclass
class DataReport:
    """What loading found: rows read, samples kept, and every row or file that was skipped, with why."""

    source: str
    rows: int = 0
    bad_rows: list[tuple[str, str]] = field(default_factory=list)
    missing: list[tuple[str, Path]] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # filled while training

    @property
    def kept(self) -> int:
        return self.rows - len(self.bad_rows) - len(self.missing)

    def nothing_read(self, epoch: int) -> RatingsDataError:
        """The error for an epoch in which not one image could be read: training on nothing must not pass."""
        (first, why), *others = self.unreadable.items()
        more = f"; also {', '.join(p for p, _ in others[:3])}{', ...' if len(others) > 3 else ''}" if others else ""
        n = len(self.unreadable)
        return RatingsDataError(f"not one image of {self.source} could be read in epoch {epoch}: {n} unreadable, e.g. "
                                f"{first}: {why}{more}; fix or remove them (train.log lists each), then train again: "
                                "no scorer was written")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "kept": self.kept, "bad_rows": len(self.bad_rows),
                "missing_images": len(self.missing), "unreadable_images": len(self.unreadable),
                "bad_row_examples": [f"{w}: {why}" for w, why in self.bad_rows[:10]],
                "missing_examples": [f"{w}: {p}" for w, p in self.missing[:10]],
                "unreadable_examples": [f"{p}: {why}" for p, why in list(self.unreadable.items())[:10]]}


def load_ratings(source: str | Path, group_columns: Sequence[str] | None = None,
                 skip_missing: bool = False) -> tuple[list[RatedSample], DataReport]:
    """Read a ratings file or rating folder (see the module docstring) -> (samples, report)."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"rated data not found: {path} (give a ratings .csv/.jsonl file or a folder with "
                                "subfolders 1..10)")
    if path.is_dir():
        for name in ("ratings.csv", "ratings.jsonl"):
            if (path / name).is_file():
                return load_ratings(path / name, group_columns, skip_missing)
        samples, report = _read_folder(path)
    elif path.suffix.lower() == ".csv":
        samples, report = _read_rows(path, _csv_rows(path), group_columns)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        errors: list[tuple[str, str]] = []
        samples, report = _read_rows(path, _jsonl_rows(path, errors), group_columns)
        report.bad_rows[:0] = errors  # lines that were not JSON objects count as bad rows too
        report.rows += len(errors)
    else:
        raise RatingsDataError(f"{path}: ratings must be a .csv or .jsonl file, or a folder of rating subfolders 1..10")

    present = []
    for sample in samples:
        if sample.image.is_file():
            present.append(sample)
        else:
            report.missing.append((sample.where, sample.image))
    if report.missing:
        listing = "; ".join(f"{w}: {p}" for w, p in report.missing[:5])
        more = f" and {len(report.missing) - 5} more" if len(report.missing) > 5 else ""
        if not skip_missing:
            raise RatingsDataError(
                f"{len(report.missing)} image file(s) named in {path} do not exist: {listing}{more}. "
                "Fix the paths (relative paths are relative to the ratings file), or skip them with "
                "skip_missing / --skip-missing")
        log.warning("skipping %d missing image(s): %s%s", len(report.missing), listing, more)
    for where, why in report.bad_rows:
        log.warning("skipping %s: %s", where, why)
    if report.bad_rows:
        log.warning("%s: %d of %d rows skipped as bad", path, len(report.bad_rows), report.rows)
    if not present:
        raise RatingsDataError(f"{path}: no usable rated images ({report.rows} rows, {len(report.bad_rows)} bad, "
                        f"{len(report.missing)} missing)")
    return present, report


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with io.StringIO(read_text(path, "ratings file", RatingsDataError), newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise RatingsDataError(f"{path} is empty (it needs a header row)")
        for row in reader:
            # DictReader puts extra cells under the None key; a short row leaves None values
            yield f"{path.name}:{reader.line_num}", row


def _jsonl_rows(path: Path, errors: list[tuple[str, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    with io.StringIO(read_text(path, "ratings file", RatingsDataError)) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append((where, f"not JSON ({exc.msg})"))
                continue
            if not isinstance(row, dict):
                errors.append((where, f"expected a JSON object, got {type(row).__name__}"))
                continue
            yield where, row


def _first_present(columns: Sequence[str], row: Mapping[str, Any]) -> str | None:
    return next((c for c in columns if c in row and row[c] not in (None, "")), None)


def _histogram(row: Mapping[str, Any]) -> tuple[float, ...] | None:
    """Votes over 1..10 from a row, or None when the row has none. Raises ValueError when they are malformed."""
    raw: Any = None
    if row.get("votes") not in (None, ""):
        raw = row["votes"]
        if isinstance(raw, str):
            raw = raw.replace(";", " ").replace(",", " ").split()
    else:
        for prefix in ("votes_", ""):
            cols = [f"{prefix}{k}" for k in range(1, N_BINS + 1)]
            if any(c in row for c in cols):
                raw = [row.get(c) for c in cols]
                if all(v in (None, "") for v in raw):  # a CSV row without votes beside rows with them
                    return None
                break
    if raw is None:
        return None
    if not isinstance(raw, (list, tuple)) or len(raw) != N_BINS:
        raise ValueError(f"votes must be {N_BINS} numbers (for ratings 1..{N_BINS}), got {raw!r}")
    values = []
    for v in raw:
        if v in (None, ""):
            raise ValueError(f"votes has an empty cell: {raw!r}")
        value = float(v)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"votes must be finite and >= 0, got {raw!r}")
        values.append(value)
    if sum(values) <= 0:
        raise ValueError("votes are all zero")
    return tuple(values)


def _read_rows(path: Path, rows: Iterator[tuple[str, dict[str, Any]]],
               group_columns: Sequence[str] | None) -> tuple[list[RatedSample], DataReport]:
    report = DataReport(source=str(path))
    samples: list[RatedSample] = []
    base = path.parent
    for where, row in rows:
        report.rows += 1
        try:
            if None in row:
                raise ValueError(f"more cells than header columns: {row[None]!r}")
            image_col = _first_present(IMAGE_COLUMNS, row)
            if image_col is None:
                raise ValueError(f"no image path (a column named one of {', '.join(IMAGE_COLUMNS)})")
            histogram = _histogram(row)
            score_col = _first_present(SCORE_COLUMNS, row)
            if score_col is not None:
                score = float(row[score_col])
            elif histogram is not None:
                score = sum(k * v for k, v in zip(range(1, N_BINS + 1), histogram, strict=True)) / sum(histogram)
            else:
                raise ValueError(f"neither a score ({', '.join(SCORE_COLUMNS)}) nor votes over 1..{N_BINS}")
            if not math.isfinite(score) or not SCORE_MIN <= score <= SCORE_MAX:
                raise ValueError(f"score {score!r} is outside [{SCORE_MIN:g}, {SCORE_MAX:g}]")
            cols = DEFAULT_GROUP_COLUMNS if group_columns is None else group_columns
            groups = {c: str(row[c]) for c in cols if row.get(c) not in (None, "")}
            if group_columns is not None:
                absent = [c for c in group_columns if c not in groups]
                if absent:
                    raise ValueError(f"no value for group column(s) {absent}")
            split = str(row["split"]).strip().lower() if row.get("split") not in (None, "") else None
            if split is not None and split not in VAL_SPLITS + TRAIN_SPLITS:
                raise ValueError(f"split {split!r} is neither train nor val")
            image = Path(str(row[image_col]))
            samples.append(RatedSample(image=image if image.is_absolute() else base / image, score=score,
                                       histogram=histogram, groups=groups, split=split, where=where))
        except (ValueError, TypeError) as exc:
            report.bad_rows.append((where, str(exc)))
    return samples, report


def _read_folder(root: Path) -> tuple[list[RatedSample], DataReport]:
    report = DataReport(source=str(root))
    samples: list[RatedSample] = []
    found_rating_dir = False
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            continue
        try:
            rating = int(child.name)
        except ValueError:
            rating = -1
        if not SCORE_MIN <= rating <= SCORE_MAX:
            log.warning("%s: ignoring folder %r (rating folders are named 1..10)", root, child.name)
            continue
        found_rating_dir = True
        for image in sorted(child.rglob("*")):
            if not image.is_file() or image.name.startswith("."):
                continue
            report.rows += 1
            where = str(image.relative_to(root))
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                report.bad_rows.append((where, f"not an image file ({', '.join(IMAGE_SUFFIXES)})"))
                continue
            rel = image.relative_to(child)
            groups = {"theme": rel.parts[0]} if len(rel.parts) > 1 else {}
            samples.append(RatedSample(image=image, score=float(rating), groups=groups, where=where))
    if not found_rating_dir:
        raise RatingsDataError(f"{root} has no rating subfolders named 1..10 and no ratings.csv / ratings.jsonl")
    return samples, report


def split_samples(samples: Sequence[RatedSample], val_fraction: float = 0.1,
                  seed: int = 0) -> tuple[list[RatedSample], list[RatedSample]]:
    """(train, val). A `split` column decides where given; otherwise a seeded shuffle holds out `val_fraction`."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if any(s.split is not None for s in samples):
        val = [s for s in samples if s.split in VAL_SPLITS]
        train = [s for s in samples if s.split not in VAL_SPLITS]
        return train, val
    n = len(samples)
    n_val = min(n - 1, max(1, round(n * val_fraction))) if val_fraction > 0 and n >= 2 else 0
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator).tolist()
    val_idx = set(order[:n_val])
    return [s for i, s in enumerate(samples) if i not in val_idx], [s for i, s in enumerate(samples) if i in val_idx]


class RatedImageDataset(Dataset):
    """Items: {"image": (3, S, S) in [0, 1], "distribution": (10,), "score": (), "weight": (), "index": ()}.

    An image that cannot be read gives {"index", "error"} instead; `collate_rated` drops it and reports it.
    """

    def __init__(self, samples: Sequence[RatedSample], image_size: int, weights: torch.Tensor | None = None) -> None:
        self.samples = list(samples)
        self.image_size = image_size
        if weights is not None and weights.shape != (len(self.samples),):
            raise ValueError(f"weights must have shape ({len(self.samples)},), got {tuple(weights.shape)}")
        self.weights = weights if weights is not None else torch.ones(len(self.samples))
        self.distributions = torch.stack([s.distribution() for s in self.samples]) if self.samples else None
        self.scores = torch.tensor([s.score for s in self.samples], dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        try:
            # the pixels the gallery shows: EXIF orientation, alpha on the display background, 16-bit, ICC to sRGB
            decoded = open_rgb(sample.image)
        except UnreadableImage as exc:
            return {"index": index, "error": str(exc)}
        image = pil_to_tensor(decoded.image, self.image_size)
        assert self.distributions is not None
        return {"image": image, "distribution": self.distributions[index], "score": self.scores[index],
                "weight": self.weights[index], "index": index}


def collate_rated(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack the readable items; `failed` lists (index, error) of the others. An all-failed batch has no tensors."""
    ok = [it for it in items if "error" not in it]
    batch: dict[str, Any] = {"failed": [(it["index"], it["error"]) for it in items if "error" in it]}
    if ok:
        batch["image"] = torch.stack([it["image"] for it in ok])
        batch["distribution"] = torch.stack([it["distribution"] for it in ok])
        batch["score"] = torch.stack([it["score"] for it in ok])
        batch["weight"] = torch.stack([it["weight"] for it in ok])
        batch["index"] = torch.tensor([it["index"] for it in ok])
    return batch
