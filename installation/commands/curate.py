"""`dstrtd curate`: score, align, cluster and decide on new pieces, or on a folder of images imported as pieces."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from installation.commands._common import add_studio_argument
from installation.commands._options import add_config_options, config_from_args
from installation.worker.options import WorkerOptions

CURATOR_OPTIONS = ("scorer", "encoder", "random_curators")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_argument(parser)
    parser.add_argument("--images", default=None, metavar="FOLDER",
                        help="import the images of FOLDER as pieces first, then curate them")
    parser.add_argument("--theme", default=None, help="theme of the imported images")
    parser.add_argument("--prompt", default=None,
                        help="prompt of the imported images (default: words of each file name)")
    parser.add_argument("--credit", default=None, metavar="NAME",
                        help="photographer of the imported images, where neither a manifest.csv beside them nor a "
                             "file name like 'Title_by_Name.jpg' says (they are shown as photographs, credited)")
    parser.add_argument("--licence", default=None, help="licence of the imported images, where no manifest.csv says")
    # the same curator options, defaults and help as `dstrtd studio`
    add_config_options(parser, WorkerOptions, only=CURATOR_OPTIONS)
    parser.add_argument("--policy", default=None, help="selection policy JSON (default: STUDIO/selection.json)")
    parser.add_argument("--device", default="auto",
                        help="auto (a CUDA GPU if any, else Apple MPS, else cpu), cpu, cuda, cuda:N or mps")
    parser.add_argument("--batch-size", dest="batch_size", type=int, default=16)
    parser.add_argument("--rescore", action="store_true", help="score again even where scores exist")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")


def prompt_from_filename(path: Path) -> str:
    """'good__13623_Abyss_swallowed_the_moon_6.png' -> 'Abyss swallowed the moon'."""
    stem = path.stem.split("__", 1)[-1]
    words = [w for w in re.split(r"[_\-\s.]+", stem) if w]
    while words and words[0].isdigit():
        words.pop(0)
    while words and words[-1].isdigit():
        words.pop()
    return " ".join(words)


def import_images(cat: Any, folder: Path, *, theme: str | None, prompt: str | None, credit: str | None = None,
                  licence: str | None = None) -> tuple[list[Any], int, dict[str, str]]:
    """Import every image of `folder` as a 'generated' piece (PNG of the pixels a visitor sees: upright, sRGB,
    transparency on the display background), recorded as a photograph with its photographer
    (`curation.photos.PhotoCredits`); returns (pieces of the folder, how many new, {file: why skipped}). An image
    already in the catalog (same PNG bytes) is not imported twice; a file that cannot be read (broken, or a
    decompression bomb over `MAX_PIXELS`) is skipped and the import goes on."""
    import io

    from curation.catalog import CatalogError
    from curation.photos import PhotoCredits
    from generator.common.errors import UnreadableImage
    from generator.common.images import open_rgb

    if not folder.is_dir():
        raise CatalogError(f"--images {folder}: not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise CatalogError(f"--images {folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    import hashlib

    by_sha = {p.sha256: p for p in cat.list_pieces()}
    credits = PhotoCredits(folder, credit=credit, licence=licence)
    pieces, new, skipped = [], 0, {}
    for path in paths:
        try:
            rgb = open_rgb(path).image
        except UnreadableImage as exc:
            skipped[path.name] = str(exc)
            print(f"skipped {path.name}: {exc}")
            continue
        buf = io.BytesIO()
        rgb.save(buf, format="PNG")
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        if sha in by_sha:
            pieces.append(by_sha[sha])
            continue
        photo, words = credits.settings(path, prompt_from_filename(path))
        text = prompt if prompt is not None else words
        piece = cat.add_piece({"image.png": data}, prompt=text, theme=theme, title=text[:60] if text else "",
                              settings={"imported_from": str(path.resolve()), **photo})
        by_sha[sha] = piece
        pieces.append(piece)
        new += 1
    return pieces, new, skipped


def format_rows(rows: list[Any]) -> str:
    from installation.commands.catalog import table

    body = [[r.slug, "-" if r.aesthetic is None else f"{r.aesthetic:.2f}",
             "-" if r.alignment is None else f"{r.alignment:.3f}", "-" if r.cluster is None else str(r.cluster),
             r.decision, "; ".join(r.reasons)] for r in rows]
    return table(body, ["slug", "aesthetic", "alignment", "cluster", "decision", "reasons"])


@contextlib.contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr while pieces are scored (shown on a terminal only, so logs and pipes stay clean)."""
    from tqdm import tqdm

    with tqdm(total=total, unit="piece", desc="scoring", file=sys.stderr, dynamic_ncols=True, disable=None) as bar:
        def update(done: int, n: int) -> None:
            bar.total = n
            bar.update(done - bar.n)

        yield update


def run(args: argparse.Namespace) -> int:
    from curation.curator import Curator
    from curation.selection import load_policy
    from curation.studio import open_studio

    studio = open_studio(args.studio, args.catalog)
    studio.sync_themes()
    policy = load_policy(args.policy, studio.root)
    with studio.catalog() as cat:
        if args.images and args.theme:
            cat.require_theme(args.theme)  # why first: before minutes of loading models
        # the models first: a scorer that cannot load must fail before anything is imported
        chosen = config_from_args(WorkerOptions, argparse.Namespace(**{k: getattr(args, k) for k in CURATOR_OPTIONS}))
        curator = Curator.load(cat, scorer=chosen.scorer, encoder=chosen.encoder, policy=policy, device=args.device,
                               batch_size=args.batch_size, allow_random=chosen.random_curators)
        if args.images:
            folder_pieces, new, skipped = import_images(cat, Path(args.images), theme=args.theme, prompt=args.prompt,
                                                        credit=args.credit, licence=args.licence)
            print(f"imported {new} new image(s) from {args.images} ({len(folder_pieces) - new} already in the catalog"
                  + (f"; {len(skipped)} skipped: {', '.join(skipped)}" if skipped else "") + ")")
            pieces = [p for p in (cat.get_piece(fp.id) for fp in folder_pieces) if p and p.status == "generated"]
        else:
            pieces = cat.list_pieces("generated")
        if not pieces:
            print("nothing to curate: no piece is waiting (status 'generated')")
            return 0
        with _progress_bar(len(pieces)) as progress:
            rows = curator.curate(pieces, rescore=args.rescore, progress=progress)
    if args.json:
        print(json.dumps([r.__dict__ | {"reasons": list(r.reasons)} for r in rows], indent=2))
        return 0
    print(format_rows(rows))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.decision] = counts.get(r.decision, 0) + 1
    print(", ".join(f"{n} {d}" for d, n in sorted(counts.items())) + f"  (policy: {json.dumps(policy.to_dict())})")
    return 0
