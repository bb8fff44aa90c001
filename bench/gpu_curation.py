"""Curation throughput on a GPU: images per second through the aesthetic scorer and the aligner, ViT-B/32.

    python bench/gpu_curation.py --device cuda                   # batches 32, 128, 512; fp32 and bf16 autocast
    python bench/gpu_curation.py --device cpu --batches 4 --repeats 1 --tower tiny    # smoke run

bench/curation.py measures the CPU; this is its GPU twin (the issue's target: >= 500 images/s on one H100). Random
weights time exactly like pretrained ones. Images are made on the device (224 px, so the towers' resize is a no-op);
host decoding and the copy to the device are not timed. Rows: the aesthetic scorer (`AestheticScorer.score`: tower +
head), the aligner (`Aligner.align`: tower + cosines to cached prompt embeddings, on the CPU), and both sharing one
tower; each in fp32 and under the caller's autocast (`--no-autocast` to skip), which no curator opens itself.
Writes bench/results/gpu-curation-<device>.json (or --json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: the repo's packages, also when the repo is not pip-installed
TARGET_IMAGES_PER_S = 500.0
PROMPTS = ["a coral reef:1 | a coral reef, digital distortion, glitch art:0.6",
           "a forest of old trees:1 | old-growth tree, pixelated, digital distortion:0.6"]
THEMES = [["a coral reef:1", "a coral reef, digital distortion, glitch art:0.6"], None]


def timed(fn: Callable[[], object], repeats: int, device: torch.device) -> tuple[float, float]:
    """Median and minimum wall seconds of `fn` (synchronised) over `repeats` runs, after one warm-up run."""
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median reported)")
    parser.add_argument("--tower", default="ViT-B-32", help="open_clip architecture (random weights) or tiny")
    parser.add_argument("--no-autocast", action="store_true", help="fp32 rows only")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from curation.aligner import Aligner
    from curation.embeddings import load_encoder
    from curation.scorer.model import build_scorer

    device = torch.device(args.device)
    scorer = build_scorer(args.tower, name="bench", device=device).eval()
    aligner = Aligner(load_encoder("tiny" if args.tower == "tiny" else f"{args.tower}:random", device))
    aligner.text_features(sorted({p.split(":")[0].strip() for s in PROMPTS for p in s.split("|")}))
    half = (torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16) \
        if device.type == "cuda" else torch.bfloat16
    modes: list[tuple[str, Callable[[], Any]]] = [("fp32", contextlib.nullcontext)]
    if not args.no_autocast:
        modes.append(("bf16" if half == torch.bfloat16 else "fp16", lambda: torch.autocast(device.type, dtype=half)))

    same_dim = scorer.tower.embed_dim == aligner.encoder.perceptor.embed_dim
    rows: list[dict[str, Any]] = []
    print(f"curation on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"tower {args.tower} (random weights), torch {torch.__version__}", flush=True)
    with torch.inference_mode():
        for batch in args.batches:
            size = scorer.image_size
            images = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(batch)).to(device)
            prompts = [PROMPTS[i % 2] for i in range(batch)]
            themes = [THEMES[i % 2] for i in range(batch)]
            for mode, ctx in modes:
                def score(im: torch.Tensor = images, ctx: Callable[[], Any] = ctx) -> None:
                    with ctx():
                        scorer.score(im)

                def align(im: torch.Tensor = images, ctx: Callable[[], Any] = ctx, p: list[str] = prompts,
                          t: list[Any] = themes) -> None:
                    with ctx():
                        aligner.align(im, p, t)

                def shared(im: torch.Tensor = images, ctx: Callable[[], Any] = ctx, p: list[str] = prompts,
                           t: list[Any] = themes) -> None:
                    with ctx():
                        feats = aligner.encoder.encode_images(im)
                        scorer.score_embeddings(feats)
                        aligner.align_features(feats, p, t)

                jobs = [("aesthetic (tower + head)", score), ("aligner (tower + cosines)", align)]
                if same_dim:  # the scorer's head reads the aligner's embeddings
                    jobs.append(("both, one shared tower", shared))
                for what, fn in jobs:
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    median, best = timed(fn, args.repeats, device)
                    row = {"what": what, "mode": mode, "batch": batch, "seconds_median": round(median, 5),
                           "images_per_s": round(batch / median, 1), "images_per_s_best": round(batch / best, 1)}
                    if device.type == "cuda":
                        row["max_memory_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                    rows.append(row)
                    print(f"  {what:<26} {mode:>5} batch {batch:>4}  {row['images_per_s']:>9.1f} img/s", flush=True)

    scorer_rows = [r for r in rows if r["what"].startswith("aesthetic")]
    best = max(r["images_per_s"] for r in scorer_rows)
    report = {"bench": "gpu_curation", "device": str(device), "tower": args.tower, "rows": rows,
              "target_images_per_s": TARGET_IMAGES_PER_S, "best_scorer_images_per_s": best,
              "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
              "torch": torch.__version__, "cpu_count": os.cpu_count(), "python": platform.python_version(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out = args.json or ROOT / "bench" / "results" / f"gpu-curation-{device.type}.json"
    from generator.common.files import write_text_atomic

    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    print(f"best scorer throughput {best:.0f} img/s (target >= {TARGET_IMAGES_PER_S:.0f}); wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
