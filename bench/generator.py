"""Generator speed: seconds per VQGAN+CLIP step and peak memory, over image sizes and cutout counts.

    python bench/generator.py                                  # full grid: sizes 128 256 512, cutn 8 32, + tiny
    python bench/generator.py --sizes 128 256 --cutn 8 --steps 3 --threads 1
    python bench/generator.py --device cuda --compile           # on a GPU (autocast bf16/fp16 by default)

The real architectures with random weights (VQGAN f16 16384 + CLIP ViT-B/32 by default): random weights time
exactly like pretrained ones, so nothing is downloaded. Each row runs `generator.pipeline.generate` for warm-up
steps, then times `--steps` more; peak memory is the process RSS on CPU (sampled every 10 ms) and
`torch.cuda.max_memory_allocated` on CUDA. Prints a table and writes bench/results/generator-<device>.json.

    python bench/generator.py --device cuda --sizes 512 --cutn 32 --anchor     # the issue's target row

`--anchor` also times, for each row, nerdyrodent/VQGAN-CLIP's step as rebuilt in bench/anchor_loop.py (its own
fp32 VQGAN and, on CUDA, fp16 CLIP, same random weights), after our models are freed so each peak holds only its
own models. Each row gets `speed_ratio` (our steps/s over the anchor's) and `memory_ratio` (our peak over the
anchor's); the target is speed_ratio >= 2 and memory_ratio <= 0.6 at 512x512, cutn 32, on a GPU. On CPU the
process RSS also counts memory the allocator kept from earlier rows, so read `memory_ratio_working` (peaks above
each row's starting memory) there too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
# why: this file shares its name with the package it measures, so the checkout goes before bench/ (the script's
# own folder, where anchor_loop.py is found)
sys.path.insert(0, str(ROOT))


class PeakRSS:
    """Peak resident memory of this process while the block runs (Linux /proc; else ru_maxrss, a lifetime peak)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self.current()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def measure(config: Any, models: Any, warmup: int, steps: int) -> dict[str, float]:
    from generator.pipeline import generate

    def run() -> Iterator[None]:
        for _ in generate(config, models):  # each step reads its loss back, so the GPU is synchronised
            yield

    return _timed(run(), models.device, warmup)


def measure_anchor(models: Any, size: tuple[int, int], cutn: int, warmup: int, steps: int) -> dict[str, float]:
    from anchor_loop import AnchorLoop

    def run() -> Iterator[None]:
        loop = AnchorLoop(models, size, cutn)
        for _ in range(warmup + steps):
            loop.step()
            if models.device.type == "cuda":
                torch.cuda.synchronize(models.device)
            yield

    return _timed(run(), models.device, warmup)


def _timed(steps: Iterator[None], device: torch.device, warmup: int) -> dict[str, float]:
    """Median seconds per step after `warmup` steps, and the peak memory while the steps (and their setup) ran."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device) if cuda else PeakRSS.current()
    times: list[float] = []
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        for index, _ in enumerate(steps):
            t1 = time.perf_counter()
            if index >= warmup:
                times.append(t1 - t0)
            t0 = t1
    peak = torch.cuda.max_memory_allocated(device) if cuda else rss.peak
    return {"s_per_step": statistics.median(times), "s_per_step_min": min(times), "timed_steps": len(times),
            "peak_mb": round(peak / 2**20, 1), "peak_above_start_mb": round((peak - start) / 2**20, 1),
            "memory": "cuda max_memory_allocated" if cuda else "process RSS"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="square image sides (px)")
    parser.add_argument("--cutn", type=int, nargs="+", default=[8, 32], help="cutouts per step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (more with --compile)")
    parser.add_argument("--vqgan", default="vqgan_imagenet_f16_16384", help="VQGAN config (random weights)")
    parser.add_argument("--perceptor", default="ViT-B-32", help="open_clip architecture (random weights)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", default="auto", help="auto (bf16/fp16 autocast on CUDA), fp32, fp16, bf16")
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder and the image tower")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-tiny", action="store_true", help="skip the tiny preset row")
    parser.add_argument("--anchor", action="store_true",
                        help="also time nerdyrodent's step (bench/anchor_loop.py) per row: speed and memory ratios")
    parser.add_argument("--json", type=Path, default=None, help="output (default bench/results/generator-<dev>.json)")
    args = parser.parse_args(argv)

    from generator.common.device import resolve_device
    from generator.common.files import write_text_atomic
    from generator.config import GenerateConfig
    from generator.perceptors import load_perceptor
    from generator.pipeline import assemble_models, load_models, versions
    from generator.vqgan import build_vqgan, get_config

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    perceptor_spec = f"{args.perceptor}:random"
    t0 = time.perf_counter()
    real = assemble_models(build_vqgan(args.vqgan, device), args.vqgan, "random",
                           {perceptor_spec: load_perceptor(perceptor_spec, device)}, device, compile=args.compile)
    build_s = time.perf_counter() - t0
    factor = get_config(args.vqgan).factor
    common = {"prompts": ("a coral reef:1",), "steps": args.warmup + args.steps, "device": str(device),
              "precision": args.precision, "compile": args.compile}
    rows: list[dict[str, Any]] = []
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.vqgan} + {args.perceptor} "
          f"(random weights, built in {build_s:.1f} s)", flush=True)
    header = f"{'model':34} {'size':>9} {'cutn':>5} {'s/step':>8} {'it/s':>7} {'peak MB':>9}"
    print(header, flush=True)
    print("-" * len(header), flush=True)
    grid: list[tuple[str, Any, GenerateConfig]] = []
    for size in args.sizes:
        if size % factor:
            print(f"skipping size {size}: not a multiple of {factor}", file=sys.stderr)
            continue
        for cutn in args.cutn:
            config = GenerateConfig(**common, vqgan=args.vqgan, perceptors=(perceptor_spec,),
                                    size=(size, size), cutn=cutn)
            grid.append((f"{args.vqgan} + {args.perceptor}", real, config))
    if not args.no_tiny:
        tiny_config = GenerateConfig(**common, preset="tiny", size=(64, 64))
        grid.append(("tiny preset", load_models(tiny_config), tiny_config))
    for label, models, config in grid:
        result = measure(config, models, args.warmup, args.steps)
        row = {"model": label, "size": list(config.size), "cutn": config.cutn, **result}
        rows.append(row)
        w, h = config.size
        print(f"{label:34} {f'{w}x{h}':>9} {config.cutn:>5} {result['s_per_step']:>8.3f} "
              f"{1 / result['s_per_step']:>7.2f} {result['peak_mb']:>9.0f}", flush=True)
    grid = [(label, None, config) for label, _, config in grid]  # our models go before the anchor's come
    real = models = None

    anchor_info = None
    if args.anchor:
        anchor_info = run_anchor(args, device, rows, [(label == "tiny preset", config) for label, _, config in grid])
    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
               "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
    out = args.json or ROOT / "bench" / "results" / f"generator-{device.type}.json"
    report = {"bench": "generator", "device": str(device), "precision": args.precision, "compile": args.compile,
              "warmup": args.warmup, "anchor": anchor_info, "machine": machine, "versions": versions(), "rows": rows,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def run_anchor(args: argparse.Namespace, device: torch.device, rows: list[dict[str, Any]],
               which: list[tuple[bool, Any]]) -> dict[str, Any]:
    """Time the anchor for each real-model row (not the tiny one) and add it and the ratios to the rows."""
    from anchor_loop import SOURCE, load_anchor_models

    if args.compile:
        torch._dynamo.reset()  # compiled graphs hold our modules
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    anchor = load_anchor_models(args.vqgan, f"{args.perceptor}:random", device)
    print(f"\nanchor: {SOURCE} (bench/anchor_loop.py), CLIP image tower {str(anchor.dtype).removeprefix('torch.')}",
          flush=True)
    header = f"{'size':>9} {'cutn':>5} {'anchor s/step':>14} {'anchor MB':>10} {'speed ratio':>12} {'mem ratio':>10}"
    print(header, flush=True)
    print("-" * len(header), flush=True)
    for row, (tiny, config) in zip(rows, which, strict=True):
        if tiny:
            continue
        result = measure_anchor(anchor, config.size, config.cutn, args.warmup, args.steps)
        row["anchor"] = result
        row["speed_ratio"] = round(result["s_per_step"] / row["s_per_step"], 3)  # ours steps/s over the anchor's
        row["memory_ratio"] = round(row["peak_mb"] / result["peak_mb"], 3)  # ours peak over the anchor's
        row["memory_ratio_working"] = round(row["peak_above_start_mb"] / max(result["peak_above_start_mb"], 1e-9), 3)
        w, h = config.size
        print(f"{f'{w}x{h}':>9} {config.cutn:>5} {result['s_per_step']:>14.3f} {result['peak_mb']:>10.0f} "
              f"{row['speed_ratio']:>12.2f} {row['memory_ratio']:>10.2f}", flush=True)
    return {"source": SOURCE, "implementation": "bench/anchor_loop.py", "vqgan": args.vqgan,
            "perceptor": f"{args.perceptor}:random", "clip_dtype": str(anchor.dtype).removeprefix("torch."),
            "target": "speed_ratio >= 2 and memory_ratio <= 0.6 at 512x512, cutn 32, on a GPU"}


if __name__ == "__main__":
    sys.exit(main())
