"""The scorer proof as a benchmark: train the tiny tower with a schedule on synthetic images whose aesthetic is a
known function of their pixels (`training.scorer.synthetic`), then report held-out PLCC/SRCC/MSE and seconds.

    python bench/scorer_synthetic.py                              # seed000, 1,250 images (1,000 train + 250 val)
    python bench/scorer_synthetic.py --schedule seed000-head-first --epochs-scale 0.5 --json out.json

Prints the per-epoch validation figures and writes bench/results/scorer-synthetic.json (atomically).
The same run from the command line:

    python -c "from training.scorer.synthetic import write_synthetic_ratings as w; w('syn', n=1250)"
    dstrtd train scorer --data syn/ratings.csv --tower tiny --schedule seed000 --batch-size 16 \\
        --val-fraction 0.2 --out runs/proof
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1250, help="synthetic images (train + validation)")
    parser.add_argument("--schedule", default="seed000")
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fresh", type=int, default=300, help="extra held-out images never written to disk")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "scorer-synthetic.json"))
    args = parser.parse_args(argv)

    import torch

    from curation.scorer.checkpoint import load_scorer
    from training.scorer.metrics import evaluate
    from training.scorer.synthetic import make_images, true_score, write_synthetic_ratings
    from training.scorer.trainer import TrainConfig, train_scorer

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ratings = write_synthetic_ratings(Path(tmp) / "data", n=args.n, size=32, seed=args.seed)
        t_data = time.perf_counter() - t0
        config = TrainConfig(data=str(ratings), out=str(Path(tmp) / "run"), tower="tiny", schedule=args.schedule,
                             epochs_scale=args.epochs_scale, batch_size=args.batch_size, val_fraction=0.2,
                             seed=args.seed, device=args.device)
        t0 = time.perf_counter()
        result = train_scorer(config)
        t_train = time.perf_counter() - t0
        scorer = load_scorer(str(Path(tmp) / "run"), device=args.device)
        images = make_images(args.fresh, size=32, seed=12345)
        with torch.no_grad():
            fresh = evaluate(scorer.score(images.to(args.device)).cpu(), true_score(images))

    print(f"{'epoch':>5} {'stage':<12} {'loss':<7} {'PLCC':>7} {'SRCC':>7} {'MSE':>7} {'acc@5':>6} {'s':>6}")
    for e in result.epochs:
        v = e["val"]
        print(f"{e['epoch']:>5} {e['stage']:<12} {e['loss_name']:<7} {v['plcc']:>7.4f} {v['srcc']:>7.4f} "
              f"{v['mse']:>7.4f} {v['acc5']:>6.3f} {e['seconds']:>6.1f}")
    final = result.epochs[-1]["val"]
    print(f"held-out (validation split, {int(final['n'])} images): PLCC {final['plcc']:.4f}")
    print(f"fresh images ({args.fresh}, never on disk): PLCC {fresh['plcc']:.4f} SRCC {fresh['srcc']:.4f}")
    print(f"data {t_data:.1f} s, training {t_train:.1f} s on {args.device} ({os.cpu_count()} cores visible)")

    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"schedule": args.schedule, "epochs_scale": args.epochs_scale, "n": args.n,
              "batch_size": args.batch_size, "seed": args.seed, "device": args.device, "val": final,
              "fresh": fresh, "epochs": result.epochs, "seconds": {"data": t_data, "train": t_train},
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                          "threads": torch.get_num_threads()}}
    tmp_path = out.with_name(f".{out.name}.tmp")
    tmp_path.write_text(json.dumps(record, indent=2) + "\n")
    tmp_path.replace(out)
    return 0 if final["plcc"] >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
