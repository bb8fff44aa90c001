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
from installation.errors import CommandError

log = logging.getLogger(__name__)


def _rating_prompts(spec: str) -> tuple[str, ...]:
    """'a photo rated {} out of 10' -> ten prompts; 'p1|p2|...' -> those (TrainConfig checks there are ten)."""
    if "{}" in spec:
        return tuple(spec.replace("{}", str(k)) for k in range(1, 11))
    return tuple(p.strip() for p in spec.split("|"))


# option -> TrainConfig field; each option's name is its field's name
SCORER_OPTIONS: dict[str, dict[str, Any]] = {
    "data": {"help": "ratings .csv/.jsonl (image + score or votes 1..10 [+ theme, source, split]) or a folder "
                     "<root>/<rating 1-10>/*.png"},
    "tower": {"help": "image tower: tiny (random, small), an open_clip model (ViT-B-32: random weights) or "
                      "MODEL:PRETRAINED (ViT-B-32:openai, ViT-L-14:openai, MODEL:/path/to/weights)"},
    "schedule": {"help": "named schedule (see --list-schedules; default seed000) or a .json file"},
    "epochs_scale": {"type": float, "help": "multiply every stage's epochs (0.5: half the recipe)"},
    "batch_size": {"type": int},
    "val_fraction": {"type": float, "help": "share held out for validation when the data has no split column"},
    "seed": {"type": int},
    "device": {"help": "auto, cpu, cuda or cuda:N"},
    "num_workers": {"type": int, "help": "image-loading worker processes"},
    "head_hidden": {"type": lambda s: tuple(int(x) for x in s.split(",") if x.strip()),
                    "help": "hidden widths of the head's MLP, comma-separated (default: a linear head)"},
    "head_dropout": {"type": float},
    "head": {"choices": ("distribution", "logits-per-text"),
             "help": "distribution (default): a linear/MLP head with a softmax over ratings 1..10; logits-per-text: "
                     "seed 000's variant, a softmax over CLIP's logits against ten rating prompts"},
    "rating_prompts": {"type": _rating_prompts,
                       "help": "logits-per-text: a template with {} for the rating (default 'a photo rated {} out of "
                               "10') or ten prompts for ratings 1..10 separated by |"},
    "learn_prompts": {"action": argparse.BooleanOptionalAction,
                      "help": "logits-per-text: let the prompt embeddings learn (default) or keep them fixed"},
    "init_head": {"help": "start the head from a public head trained on this tower's embeddings: a registry name "
                          "(laion-vit-b-32, simulacra-vit-b-32, improved-l14, ...), a .pth file, or auto"},
    "head_warmup_epochs": {"type": int, "help": "seed 001: train only the head (tower frozen) for this many epochs "
                                                "before the schedule"},
    "head_warmup_lr": {"type": float},
    "group_column": {"help": "balance the loss over the groups of this column (theme, source, ...)"},
    "group_power": {"type": float, "help": "1: every group weighs the same; 0.5: half-way; 0: no balancing"},
    "grad_clip": {"type": float, "help": "clip the gradient norm (off by default, as in the recipe)"},
    "checkpoint_every_steps": {"type": int, "help": "also checkpoint inside epochs every N steps"},
    "max_steps": {"type": int, "help": "stop (with a checkpoint) after this many steps in total"},
    "name": {"help": "the scorer's name (default: the run folder's name)"},
}


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
    parser.add_argument("--out", help="run folder (required)")
    for name, kwargs in SCORER_OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None, **kwargs)
    parser.add_argument("--skip-missing", dest="skip_missing", action="store_true", default=None,
                        help="skip rows whose image file does not exist (default: stop and list them)")
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
    from training.scorer.trainer import TrainConfig

    if not args.out:
        raise CommandError("--out RUN_DIR is required")
    given = {name: getattr(args, name) for name in (*SCORER_OPTIONS, "skip_missing")
             if getattr(args, name, None) is not None}
    if args.resume:
        saved_path = Path(args.out) / "config.json"
        if not saved_path.is_file():
            raise FileNotFoundError(f"nothing to resume: {saved_path} does not exist")
        saved = json.loads(saved_path.read_text(encoding="utf-8"))["train"]
        saved["max_steps"] = None  # a stop the last run asked for is not a stop for this one
        return TrainConfig.from_dict({**saved, **given, "out": args.out})
    if "data" not in given:
        raise CommandError("--data FILE_OR_DIR is required (or --resume an existing run)")
    return TrainConfig(out=args.out, **given)


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
