"""Curation throughput on the CPU: images per second through the aesthetic scorer and the aligner, ViT-B/32.

    python bench/curation.py                        # ViT-B/32 with random weights, batches 1, 8 and 32
    python bench/curation.py --batches 16 --repeats 5 --json out.json

Random weights time exactly like pretrained ones (same architecture, same FLOPs), so no download is needed.
Measured: the aesthetic scorer (ViT-B/32 image tower + the LAION linear head, when ../shared/data holds it), the
aligner (ViT-B/32 image tower through `generator.perceptors`, cosines to cached prompt embeddings), both together
as `Curator.score` runs them on one batch (two towers, or one when the scorer's head sits on the aligner's
CLIP, e.g. laion-vit-b-32 on ViT-B-32:openai), and the decoding of real JPEG photographs to 224 px tensors.
Prints a table and writes bench/results/curation-cpu.json (atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: before bench/, whose curation.py would shadow the package
SHARED = ROOT.parent / "shared" / "data"
PROMPTS = ["a coral reef:1 | a coral reef, digital distortion, glitch art:0.6",
           "a forest of old trees:1 | old-growth tree, pixelated, digital distortion:0.6"]


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and minimum wall seconds of `fn` over `repeats` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def build_scorer() -> tuple[torch.nn.Module, str]:
    from curation.scorer.heads import load_public_head
    from curation.scorer.model import AestheticScorer, build_scorer
    from curation.scorer.tower import build_tower

    head_path = SHARED / "aesthetic_heads" / "laion" / "sa_0_4_vit_b_32_linear.pth"
    if head_path.is_file():
        scorer = AestheticScorer(build_tower("ViT-B-32"), load_public_head(head_path), name="laion-vit-b-32",
                                 version="random-tower")
        return scorer.eval(), "ViT-B/32 (random) + LAION linear head"
    return build_scorer("ViT-B-32", name="vit-b-32-random").eval(), "ViT-B/32 (random) + linear head (random)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32], help="batch sizes")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "curation-cpu.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from curation.aligner import Aligner
    from curation.embeddings import load_encoder, load_images

    scorer, scorer_desc = build_scorer()
    aligner = Aligner(load_encoder("ViT-B-32:random", "cpu"))
    themes = [["a coral reef:1", "a coral reef, digital distortion, glitch art:0.6"]] * 2
    aligner.text_features(sorted({p.split(":")[0].strip() for s in PROMPTS for p in s.split("|")}))

    rows: list[dict[str, object]] = []

    def record(what: str, batch: int, fn: Callable[[], object]) -> None:
        median, best = timed(fn, args.repeats)
        row = {"what": what, "batch": batch, "seconds_median": round(median, 4), "seconds_min": round(best, 4),
               "images_per_s": round(batch / median, 2), "images_per_s_best": round(batch / best, 2)}
        rows.append(row)
        print(f"  {what:<34} batch {batch:>3}  {row['images_per_s']:>8.2f} img/s  (median {median * 1000:8.1f} ms)",
              flush=True)

    print(f"curation on CPU: torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    with torch.inference_mode():
        for b in args.batches:
            images = torch.rand(b, 3, 224, 224, generator=torch.Generator().manual_seed(b))
            prompts = [PROMPTS[i % 2] for i in range(b)]
            theme_prompts = [themes[i % 2] for i in range(b)]
            record("aesthetic (tower + head)", b, lambda im=images: scorer.score(im))
            record("aligner (tower + cosines)", b,
                   lambda im=images, p=prompts, t=theme_prompts: aligner.align(im, p, t))

            def both(im: torch.Tensor = images, p: list[str] = prompts, t: list[list[str]] = theme_prompts) -> None:
                scorer.score(im)
                aligner.align(im, p, t)

            record("both (as Curator.score runs them)", b, both)

            def shared(im: torch.Tensor = images, p: list[str] = prompts, t: list[list[str]] = theme_prompts) -> None:
                feats = aligner.encoder.encode_images(im)
                scorer.score_embeddings(feats)
                aligner.align_features(feats, p, t)

            record("both, one shared tower", b, shared)

    photos = sorted((SHARED / "nature").glob("*.jpg"))
    if photos:
        record("decode JPEG (1280 px) -> 224 px", len(photos), lambda: load_images(photos, 224))

    result = {
        "benchmark": "curation-cpu",
        "scorer": scorer_desc,
        "aligner": "ViT-B/32 (random) via generator.perceptors, 2 prompts + 2 theme prompts per image",
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "repeats": args.repeats, "rows": rows,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = Path(args.json)
    from generator.common.files import write_text_atomic

    write_text_atomic(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
