"""`dstrtd train scorer|encoder`: train the curators.

    dstrtd train scorer --data ratings.csv --tower tiny --schedule seed000 --out runs/scorer
    dstrtd train scorer --data my-ratings/ --tower ViT-B-32:openai --init-head auto --out runs/mine
    dstrtd train scorer --data ratings.csv --head logits-per-text --out runs/lpt   # seed 000's rating prompts
    dstrtd train scorer --out runs/scorer --resume           # continue exactly where it stopped
    dstrtd train encoder ...                                 # see `dstrtd train encoder --help`

The scorer's run folder gets config.json (resolved settings), train.log, metrics.json, steps.csv,
plots/curves.png, checkpoints/last.pt, and the scorers scorer/ (final) and best/ (best validation PLCC), both
loadable with `curation.scorer.checkpoint.load_scorer(path)` or `--scorer path` wherever a scorer is asked for.
Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from installation.commands._common import RunLogFile
from installation.commands._options import add_config_options, given_options
from installation.errors import CommandError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="train_what", metavar="WHAT")
    scorer = sub.add_parser("scorer", help="the aesthetic scorer (CLIP image tower + rating-distribution head)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scorer_arguments(scorer)
    scorer.set_defaults(_train_run=run_scorer)

    encoder_help = "the contrastive image-text encoder (CLIP, SogCLR or iSogCLR loss)"
    try:
        from installation.commands import train_encoder
    except ModuleNotFoundError as exc:
        if exc.name != "installation.commands.train_encoder":
            raise
        encoder = sub.add_parser("encoder", help=encoder_help + " (not in this build)")
        encoder.set_defaults(_train_run=_encoder_missing)
    else:
        encoder = sub.add_parser("encoder", help=encoder_help, description=train_encoder.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        train_encoder.add_arguments(encoder)
        encoder.set_defaults(_train_run=train_encoder.run)


def add_scorer_arguments(parser: argparse.ArgumentParser) -> None:
    from training.scorer.config import TrainConfig  # torch-free: the settings and their help

    add_config_options(parser, TrainConfig)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (settings come from the run)")
    parser.add_argument("--list-schedules", action="store_true", help="list the named schedules and exit")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    runner = getattr(args, "_train_run", None)
    if runner is None:
        print("dstrtd train: say what to train: scorer or encoder (see dstrtd train --help)", file=sys.stderr)
        return 2
    return int(runner(args) or 0)


def _encoder_missing(args: argparse.Namespace) -> int:
    print("dstrtd train encoder: the encoder trainer is not part of this build", file=sys.stderr)
    return 2


def resolve_scorer_config(args: argparse.Namespace):  # -> TrainConfig
    """The TrainConfig for these options; with --resume, the run's own settings with the given options on top."""
    from training.scorer.config import TrainConfig

    if not args.out:
        raise CommandError("--out RUN_DIR is required")
    given = given_options(TrainConfig, args)
    if args.resume:
        saved_path = Path(args.out) / "config.json"
        if not saved_path.is_file():
            raise FileNotFoundError(f"nothing to resume: {saved_path} does not exist")
        saved = json.loads(saved_path.read_text(encoding="utf-8"))["train"]
        saved["max_steps"] = None  # a stop the last run asked for is not a stop for this one
        return TrainConfig.from_dict({**saved, **given})
    if "data" not in given:
        raise CommandError("--data FILE_OR_DIR is required (or --resume an existing run)")
    return TrainConfig(**given)


class _Progress:
    """A tqdm bar over the run's steps, with the epoch, loss and last validation PLCC."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.plcc = ""

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        if event.kind == "start":
            from tqdm import tqdm

            self.bar = tqdm(total=event.total_steps, initial=event.step, desc="train scorer", unit="step",
                            dynamic_ncols=True, file=sys.stderr)
        elif self.bar is None:
            return
        elif event.kind == "step":
            self.bar.set_postfix({"epoch": event.epoch, "loss": f"{event.loss:.4g}", **({"plcc": self.plcc}
                                                                                          if self.plcc else {})},
                                 refresh=False)
            self.bar.update(event.step - self.bar.n)
        elif event.kind == "epoch":
            val = (event.record or {}).get("val")
            if val:
                self.plcc = f"{val['plcc']:.3f}"
            self.bar.update(event.step - self.bar.n)
        elif event.kind == "end":
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_scorer(args: argparse.Namespace) -> int:
    if args.list_schedules:
        from training.scorer.schedule import list_schedules, load_schedule

        for name in list_schedules():
            schedule = load_schedule(name)
            stages = ", ".join(f"{s.name}: {s.optimizer} lr {s.lr:g} x{s.epochs} {'/'.join(s.losses)}"
                               + (" (head only)" if s.train == "head" else "") for s in schedule.stages)
            print(f"{name:<20} {stages}")
        return 0
    from training.scorer.trainer import train_scorer

    config = resolve_scorer_config(args)
    out = Path(config.out)
    log_file = RunLogFile(out / "train.log")
    progress = _Progress(args.progress)
    try:
        result = train_scorer(config, resume=args.resume, on_event=progress)
    finally:
        progress.close()
        log_file.close()
    last = result.epochs[-1] if result.epochs else None
    status = "finished" if result.finished else "stopped early (resume with --resume)"
    print(f"scorer training {status}: {len(result.epochs)} epoch(s) in {out}")
    if last and last.get("val"):
        v = last["val"]
        print(f"  last epoch  PLCC {v['plcc']:.4f}  SRCC {v['srcc']:.4f}  MSE {v['mse']:.4f}  acc@5 {v['acc5']:.3f}"
              f"  ({int(v['n'])} held-out images)")
    if result.best:
        v = result.best["val"]
        print(f"  best epoch {result.best['epoch']}: PLCC {v['plcc']:.4f}  SRCC {v['srcc']:.4f}  -> {out / 'best'}")
    data = result.data
    if data.get("bad_rows") or data.get("missing_images") or data.get("unreadable_images"):
        print(f"  skipped: {data['bad_rows']} bad row(s), {data['missing_images']} missing and "
              f"{data['unreadable_images']} unreadable image(s) (see train.log and metrics.json)")
    print(f"  scorer      {result.scorer_path}  (load_scorer or --scorer with this path)")
    print(f"  metrics     {out / 'metrics.json'}, plots {out / 'plots' / 'curves.png'}")
    return 0
