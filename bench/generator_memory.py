"""The generator's memory estimate (`generator.memory`) against the peaks `bench/generator.py` measured.

    python bench/generator_memory.py                     # every bench/results/generator-*.json row
    python bench/generator_memory.py --sizes 304 512 1024 2048 --cutn 32   # the estimate alone, with no measurement

Reads the rows of the generator benchmark's results (real architectures, random weights), estimates each row's
memory without building anything, and prints both with their ratio; the machine's budget and the largest square
that fits it close the table. Writes bench/results/generator-memory.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: bench/generator.py shares the package's name; the checkout comes first

from generator.common.files import write_json_atomic  # noqa: E402
from generator.config import GenerateConfig  # noqa: E402
from generator.memory import GB, estimate, largest_size, machine_memory  # noqa: E402

# why not the tiny rows: bench/generator.py runs them after the large ones, so their process RSS holds what those left
MODELS = {"vqgan_imagenet_f16_16384 + ViT-B-32": {"preset": "imagenet_16384", "perceptors": ("ViT-B-32:random",)}}


def config(model: str, size: tuple[int, int], cutn: int) -> GenerateConfig:
    return GenerateConfig(prompts=("x",), size=size, cutn=cutn, device="cpu", **MODELS[model])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[], help="square sizes to estimate, no measurement")
    parser.add_argument("--cutn", type=int, default=32)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for path in sorted((ROOT / "bench" / "results").glob("generator-*.json")):
        if path.name == "generator-memory.json":
            continue
        data = json.loads(path.read_text())
        for row in data.get("rows", []):
            if row.get("model") not in MODELS or "peak_mb" not in row:
                continue
            found = estimate(config(row["model"], tuple(row["size"]), row["cutn"]))
            assert found is not None
            mb = round(found.total / 2**20)
            rows.append({"source": path.name, "model": row["model"], "size": row["size"], "cutn": row["cutn"],
                         "measured_mb": row["peak_mb"], "memory": row.get("memory"), "estimate_mb": mb,
                         "ratio": round(mb / row["peak_mb"], 3)})
    model = "vqgan_imagenet_f16_16384 + ViT-B-32"
    for side in args.sizes:
        found = estimate(config(model, (side, side), args.cutn))
        assert found is not None
        rows.append({"source": "estimate only", "model": model, "size": [side, side], "cutn": args.cutn,
                     "estimate_mb": round(found.total / 2**20)})
    print(f"{'source':<28} {'model':<38} {'size':>10} {'cutn':>4} {'measured MB':>12} {'estimate MB':>12} {'ratio':>6}")
    for r in rows:
        print(f"{r['source']:<28} {r['model']:<38} {'x'.join(map(str, r['size'])):>10} {r['cutn']:>4} "
              f"{r.get('measured_mb', '-'):>12} {r['estimate_mb']:>12} {r.get('ratio', '-'):>6}")
    budget = machine_memory()
    fit = largest_size(config(model, (4096, 4096), args.cutn), budget) if budget else None
    print(f"this machine: {budget / GB if budget else 0:.1f} GB; largest square that fits ({model}, cutn "
          f"{args.cutn}): {fit}")
    out = write_json_atomic(ROOT / "bench" / "results" / "generator-memory.json",
                            {"bench": "generator_memory", "rows": rows, "budget_bytes": budget, "largest_square": fit,
                             "cutn": args.cutn, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
