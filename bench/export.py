"""Time the poster export: N A3 posters (PDF + PNG at 300 dpi) from synthetic 512 px artworks.

    python bench/export.py                 # 100 A3 posters on 2 workers; target <= 60 s on 2 cores
    python bench/export.py --n 20 --workers 1 --json out.json

Prints the figures and writes them as JSON (default: <out>/export.json).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: run from a checkout without `pip install -e .` too


def synthetic_artwork(seed: int, size: int = 512) -> bytes:
    """A VQGAN-like picture: smooth colour fields, grain and a few shifted bands, as PNG bytes."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).resize((size, size),
                                                                                     Image.Resampling.BICUBIC)
    arr = np.asarray(base).astype(np.int16)
    for _ in range(6):
        y, h = int(rng.integers(0, size - 24)), int(rng.integers(3, 24))
        arr[y:y + h] = np.roll(arr[y:y + h], int(rng.integers(-60, 60)), axis=1)
    arr += rng.integers(-10, 10, arr.shape, dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="posters to export (default 100)")
    parser.add_argument("--size", default="A3")
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--art", type=int, default=512, help="artwork side in px (default 512)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="studio folder to use (default: a temporary one)")
    parser.add_argument("--json", default=None, help="where to write the figures")
    args = parser.parse_args(argv)
    # why: every synthetic 512 px artwork prints below 150 dpi on A3; count those warnings instead of printing 100
    logging.getLogger("installation.export.posters").setLevel(logging.ERROR)

    from curation.studio import init_studio
    from installation.export.posters import PosterConfig, export_posters

    out_root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="dstrtd-bench-export-"))
    studio = init_studio(out_root / "studio")
    with studio.catalog() as catalog:
        if catalog.count_pieces() < args.n:
            for i in range(catalog.count_pieces(), args.n):
                catalog.add_piece({"image.png": synthetic_artwork(i, args.art)}, prompt="a coral reef:1",
                                  theme="coral-reef", seed=i, status="accepted")
        pieces = catalog.list_pieces(limit=args.n)
        config = PosterConfig(size=args.size, dpi=args.dpi)
        load_before = os.getloadavg()[0]
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        results = export_posters(catalog, pieces, out_root / "posters", config, workers=args.workers)
        wall = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start  # the pool's workers have exited, so their time is in RUSAGE_CHILDREN
        load_after = os.getloadavg()[0]
    ok = [r for r in results if r.ok]
    per = [r.seconds for r in ok]
    sizes = [(r.pdf.stat().st_size if r.pdf else 0, r.png.stat().st_size if r.png else 0) for r in ok]
    figures = {
        "posters": len(results), "ok": len(ok), "failed": len(results) - len(ok), "size": args.size,
        "dpi": args.dpi, "art_px": args.art, "workers": args.workers, "wall_s": round(wall, 2),
        "posters_per_s": round(len(ok) / wall, 3) if wall else None,
        "per_poster_s": {"median": round(statistics.median(per), 3), "max": round(max(per), 3)} if per else None,
        "mean_pdf_mb": round(statistics.mean(s[0] for s in sizes) / 1e6, 2) if sizes else None,
        "low_dpi_warnings": sum(1 for r in ok if r.warnings),
        "mean_png_mb": round(statistics.mean(s[1] for s in sizes) / 1e6, 2) if sizes else None,
        "cpu_s": round(cpu, 2),
        # why: on a shared machine wall time measures the neighbours too; CPU seconds spread over the workers
        # (at most one core each) is what the export alone needs on idle cores
        "wall_s_on_idle_cores": round(cpu / max(1, min(args.workers, os.cpu_count() or 1)), 1),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "target_s": 60.0 * args.n / 100, "cpus": os.cpu_count(), "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"{figures['ok']}/{figures['posters']} {args.size} posters at {args.dpi} dpi on {args.workers} workers "
          f"in {wall:.1f} s ({figures['posters_per_s']} posters/s; target <= {figures['target_s']:.0f} s)")
    print(f"CPU {cpu:.1f} s in all: {figures['wall_s_on_idle_cores']} s on {args.workers} idle cores "
          f"(load average {load_before:.1f} -> {load_after:.1f} while measuring)")
    if per:
        print(f"per poster: median {figures['per_poster_s']['median']} s, max {figures['per_poster_s']['max']} s; "
              f"PDF {figures['mean_pdf_mb']} MB, PNG {figures['mean_png_mb']} MB")
    for r in results:
        if not r.ok:
            print(f"failed: {r.slug}: {r.error}", file=sys.stderr)
    json_path = Path(args.json) if args.json else out_root / "export.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {json_path}")
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
