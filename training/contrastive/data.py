"""Image-text pairs for contrastive training: manifests, images, tokens, and the batch order.

A manifest is a CSV or JSONL file with an image path and a caption per row (an optional label feeds zero-shot
evaluation); relative paths are taken from the manifest's folder. A folder in the tuxpaint-stamps layout
(`tuxpaint_all_captions.csv` beside `tuxpaint/`, as in ../shared/data/captions) is read directly. Rows that cannot
be used (no caption, a missing or unreadable image) are reported and skipped; a manifest with no usable row
raises `CaptionsDataError`.

Every sample carries its index in the dataset, which the global losses use to find their per-sample state.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, ImageColor, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from curation.embeddings import load_image as curation_load_image
from generator.common.errors import UnreadableImage
from generator.common.files import read_text
from training.contrastive.errors import CaptionsDataError

log = logging.getLogger(__name__)

IMAGE_COLUMNS = ("image", "image_path", "filepath", "file", "path", "filename")
CAPTION_COLUMNS = ("caption", "text", "title")
LABEL_COLUMNS = ("label", "class", "category")
TUXPAINT_CAPTIONS = "tuxpaint_all_captions.csv"
TUXPAINT_IMAGES = "tuxpaint"
# tuxpaint's top-level folders hold a few loose stamps; its category is the folder under them when there is one
TUXPAINT_LABEL_NAMES = {"naturalforces": "natural forces"}


@dataclass(frozen=True)
class Record:
    image: Path
    caption: str
    label: str | None = None


@dataclass
class Manifest:
    records: list[Record]
    source: Path
    rows: int  # rows read, usable or not
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number in the manifest, why)

    @property
    def labels(self) -> list[str] | None:
        labels = [r.label for r in self.records]
        return None if any(lab is None for lab in labels) else labels  # type: ignore[return-value]


def _pick(columns: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[w] for w in wanted if w in lower), None)


def _check_image(path: Path) -> str | None:
    if not path.is_file():
        return f"image not found: {path}"
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - reading the header is the check
    except (UnidentifiedImageError, OSError) as exc:
        return f"unreadable image {path}: {exc}"
    return None


def _rows_from_csv(path: Path) -> tuple[list[tuple[int, dict[str, str] | None]], list[str]]:
    """(line number, row) pairs; the number is the row's last line in the file, as csv counts it."""
    with io.StringIO(read_text(path, "captions file", CaptionsDataError), newline="") as f:
        reader = csv.DictReader(f)
        rows: list[tuple[int, dict[str, str] | None]] = [(reader.line_num, row) for row in reader]
        return rows, list(reader.fieldnames or [])


def _rows_from_jsonl(path: Path, skipped: list[tuple[int, str]]
                     ) -> tuple[list[tuple[int, dict[str, str] | None]], list[str]]:
    rows: list[tuple[int, dict[str, str] | None]] = []
    columns: list[str] = []
    for number, line in enumerate(io.StringIO(read_text(path, "captions file", CaptionsDataError)), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            skipped.append((number, f"bad JSON: {exc}"))
            rows.append((number, None))
            continue
        rows.append((number, {str(k): v for k, v in obj.items()}))
        columns.extend(k for k in obj if k not in columns)
    return rows, columns


def read_manifest(path: str | Path, *, check_images: bool = True) -> Manifest:
    """Records from a CSV/JSONL manifest or a tuxpaint-layout folder (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image-text data not found: {path} (pass a CSV or JSONL manifest with image and "
                                "caption columns, or a folder holding one)")
    if path.is_dir():
        if (path / TUXPAINT_CAPTIONS).is_file() and (path / TUXPAINT_IMAGES).is_dir():
            return _read_tuxpaint(path, check_images=check_images)
        found = sorted([*path.glob("*.csv"), *path.glob("*.jsonl")])
        if len(found) != 1:
            raise CaptionsDataError(f"{path} is a folder; pass its manifest file instead (found: "
                            f"{', '.join(p.name for p in found) or 'no .csv or .jsonl file'})")
        path = found[0]
    skipped: list[tuple[int, str]] = []
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, columns = _rows_from_csv(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows, columns = _rows_from_jsonl(path, skipped)
    else:
        raise CaptionsDataError(f"unknown manifest format {path.suffix!r} for {path}; use .csv or .jsonl")
    image_col, caption_col = _pick(columns, IMAGE_COLUMNS), _pick(columns, CAPTION_COLUMNS)
    label_col = _pick(columns, LABEL_COLUMNS)
    if image_col is None or caption_col is None:
        raise CaptionsDataError(f"{path} needs an image column ({'/'.join(IMAGE_COLUMNS)}) and a caption column "
                        f"({'/'.join(CAPTION_COLUMNS)}); it has {columns}")
    records: list[Record] = []
    for number, row in rows:
        if row is None:
            continue
        image, caption = str(row.get(image_col) or "").strip(), str(row.get(caption_col) or "").strip()
        label = str(row.get(label_col) or "").strip() if label_col else ""
        if not image:
            skipped.append((number, "no image path"))
            continue
        if not caption:
            skipped.append((number, f"no caption for {image}"))
            continue
        image_path = Path(image) if Path(image).is_absolute() else path.parent / image
        problem = _check_image(image_path) if check_images else None
        if problem:
            skipped.append((number, problem))
            continue
        records.append(Record(image_path, caption, label or None))
    return _finish(Manifest(records, path, len(rows), skipped))


def _finish(manifest: Manifest) -> Manifest:
    manifest.skipped.sort()
    if manifest.skipped:
        shown = "; ".join(f"line {n}: {why}" for n, why in manifest.skipped[:10])
        more = f" (and {len(manifest.skipped) - 10} more)" if len(manifest.skipped) > 10 else ""
        log.warning("%s: skipped %d of %d rows: %s%s", manifest.source, len(manifest.skipped), manifest.rows,
                    shown, more)
    if not manifest.records:
        reasons = "; ".join(f"line {n}: {why}" for n, why in manifest.skipped[:5]) or "it has no rows"
        raise CaptionsDataError(f"no usable image-text pair in {manifest.source}: {reasons}")
    if manifest.labels is None and any(r.label for r in manifest.records):
        log.warning("%s: only some rows have a label; zero-shot evaluation is off", manifest.source)
    return manifest


def tuxpaint_label(stamp_path: str) -> str:
    """'animals/birds/cartoon/tux.png' -> 'birds', 'plants/thyme.png' -> 'plants'."""
    parts = stamp_path.split("/")
    name = parts[1] if len(parts) >= 3 else parts[0]
    return TUXPAINT_LABEL_NAMES.get(name, name.replace("_", " "))


def _read_tuxpaint(folder: Path, *, check_images: bool) -> Manifest:
    """tuxpaint-stamps-default captions: the CSV names every stamp of the package; the images folder holds a
    subset, named by the stamp path with '/' written as '__'. Stamps without an image are not errors."""
    csv_path = folder / TUXPAINT_CAPTIONS
    raw, columns = _rows_from_csv(csv_path)
    stamp_col = next((c for c in columns if c.lower().startswith("stamp_path")), None)
    caption_col = next((c for c in columns if "caption" in c.lower()), None)
    if stamp_col is None or caption_col is None:
        raise CaptionsDataError(f"{csv_path} needs a stamp_path and a caption column; it has {columns}")
    images = folder / TUXPAINT_IMAGES
    records, skipped = [], []
    for number, row in raw:
        if row is None:
            continue
        stamp, caption = (row.get(stamp_col) or "").strip(), (row.get(caption_col) or "").strip()
        image = images / stamp.replace("/", "__")
        if not stamp or not image.is_file():
            continue
        problem = None if caption else f"no caption for {image}"
        problem = problem or (_check_image(image) if check_images else None)
        if problem:
            skipped.append((number, problem))
            continue
        records.append(Record(image, caption, tuxpaint_label(stamp)))
    return _finish(Manifest(records, csv_path, len(records) + len(skipped), skipped))


def split_records(records: Sequence[Record], val_fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """A seeded random split; `val_fraction=0` returns no validation rows."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    n_val = int(round(len(records) * val_fraction))
    if val_fraction > 0 and len(records) - n_val < 2:
        raise CaptionsDataError(f"{len(records)} pairs leave fewer than 2 for training at val_fraction={val_fraction}")
    val = [records[i] for i in sorted(order[:n_val])]
    train = [records[i] for i in sorted(order[n_val:])]
    return train, val


def subset(records: Sequence[Record], fraction: float, seed: int) -> list[Record]:
    """A seeded random `fraction` of the rows (seed 002's phase 1 searches on 20% of the data)."""
    if fraction >= 1.0:
        return list(records)
    keep = sorted(random.Random(seed + 1).sample(range(len(records)), max(2, int(round(len(records) * fraction)))))
    return [records[i] for i in keep]


def parse_colour(colour: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(colour)[:3]
    except ValueError as exc:
        raise CaptionsDataError(f"background {colour!r} is not a colour (try '#ffffff' or 'white')") from exc


def load_image(path: Path, size: int, background: tuple[int, int, int] = (255, 255, 255),
               resize: str = "pad") -> Tensor:
    """(3, size, size) float in [0, 1]; the curators' loader with seed 002's default of letterboxing ("pad")."""
    return curation_load_image(path, size, background=background, resize=resize)


class ImageTextDataset(Dataset):
    """`dataset[i] -> (image (3, S, S) normalised, tokens (L,) int64, i)`. Captions are tokenised once, here."""

    def __init__(self, records: Sequence[Record], tokenizer: Callable[[Sequence[str]], Tensor], image_size: int,
                 mean: Sequence[float], std: Sequence[float], background: str = "#ffffff",
                 resize: str = "pad") -> None:
        if not records:
            raise CaptionsDataError("an image-text dataset needs at least one pair")
        self.records = list(records)
        self.tokens = tokenizer([r.caption for r in self.records])
        self.image_size, self.resize = int(image_size), resize
        self.background = parse_colour(background)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def captions(self) -> list[str]:
        return [r.caption for r in self.records]

    @property
    def labels(self) -> list[str] | None:
        labels = [r.label for r in self.records]
        return None if any(lab is None for lab in labels) else labels  # type: ignore[return-value]

    def image(self, i: int) -> Tensor:
        path = self.records[i].image
        try:
            pixels = load_image(path, self.image_size, self.background, self.resize)
        except (FileNotFoundError, UnidentifiedImageError, OSError, UnreadableImage) as exc:
            raise CaptionsDataError(f"cannot read image {path} (row {i} of the dataset): {exc}") from exc
        return (pixels - self.mean) / self.std

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, int]:
        return self.image(i), self.tokens[i], i


class GlobalBatchSampler(Sampler[list[int]]):
    """Shuffled global batches of `batch_size` indices; rank r of `world_size` gets the r-th equal slice.

    The order depends only on (seed, epoch), so a single process and W ranks see the same global batches, and a
    resumed run can start at `start_batch` of its epoch. The last incomplete batch is dropped: a contrastive
    batch of one pair has no negatives.
    """

    def __init__(self, num_samples: int, batch_size: int, *, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        if batch_size % world_size:
            raise CaptionsDataError(f"batch size {batch_size} does not split evenly across {world_size} ranks")
        if num_samples < batch_size:
            raise CaptionsDataError(f"batch size {batch_size} is larger than the {num_samples} training pairs; "
                            "lower --batch-size")
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return self.num_samples // self.batch_size - self.start_batch

    def global_batches(self) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=g).tolist()
        n = self.num_samples // self.batch_size
        return [order[k * self.batch_size:(k + 1) * self.batch_size] for k in range(n)]

    def __iter__(self) -> Iterator[list[int]]:
        local = self.batch_size // self.world_size
        for batch in self.global_batches()[self.start_batch:]:
            yield batch[self.rank * local:(self.rank + 1) * local]
