"""`dstrtd train encoder`: train a contrastive image-text encoder (CLIP, SogCLR or iSogCLR loss), or search its
hyper-parameters with Optuna (`--search`).

    dstrtd train encoder --data captions.csv --loss isogclr --model tiny --epochs 5 --batch-size 32 --out RUN
    dstrtd train encoder --out RUN --resume                  # continue exactly where it stopped
    dstrtd train encoder --out RUN --resume --epochs 40      # ... and train for longer
    torchrun --nproc-per-node 2 "$(which dstrtd)" train encoder --data ... --out RUN     # data-parallel

The run folder gets config.json, train.log, metrics.json, loss.png, metrics.png, checkpoints/ and encoder/
(open_clip local-dir format: open_clip.create_model("local-dir:RUN/encoder")).
Nothing heavy is imported until the command runs.
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

log = logging.getLogger(__name__)

# the config fields with an option of their own (the others through --set FIELD=VALUE); name, type, choices,
# default and help come from `training.contrastive.config.TrainConfig`
FIELD_OPTIONS = ("loss", "model", "epochs", "batch_size", "lr", "optimizer", "sched", "warmup_epochs", "weight_decay",
                 "embed_dim", "temp", "grad_clip", "val_fraction", "eval_data", "data_fraction", "precision", "device",
                 "seed", "num_workers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="CSV or JSONL manifest (image path + caption [+ label]), or a tuxpaint captions folder "
                             "(required unless --resume)")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--config", default=None,
                        help="named settings (seed002, seed002-phase3, tiny) or a JSON file (default: seed002, "
                             "seed 002's Table 1, whose values the defaults below show); the options below go on top")
    from training.contrastive.config import TrainConfig  # torch-free: the settings and their help

    add_config_options(parser, TrainConfig, only=FIELD_OPTIONS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="set any other config field, e.g. --set sogclr_gamma=0.9 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (settings and data come from the "
                             "run; options given here go on top, where a resume allows them)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop (with a checkpoint) after this many steps")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    search = parser.add_argument_group("hyper-parameter search (Optuna, seed 002's phases)")
    search.add_argument("--search", action="store_true",
                        help="phase 1: --trials trials of --search-epochs epochs on --search-fraction of the "
                             "training pairs; phase 2: the best settings on all of them for --epochs. Run it again "
                             "to add trials to the same study (in --out/search.db) and continue phase 2")
    search.add_argument("--trials", type=int, default=20, help="trials to add to the study (default 20)")
    search.add_argument("--search-fraction", type=float, default=0.2, help="phase-1 share of the training pairs")
    search.add_argument("--search-epochs", type=int, default=10, help="phase-1 epochs per trial")


def resolve_config(args: argparse.Namespace):  # -> tuple[TrainConfig, str]
    """The settings and the data for this run: a named/JSON config (or, with --resume, the run's own) with the
    options the user gave applied on top."""
    from training.contrastive.config import TrainConfig, load_config
    from training.contrastive.errors import ContrastiveError

    changes: dict[str, Any] = given_options(TrainConfig, args)
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ContrastiveError(f"--set takes FIELD=VALUE, got {item!r}")
        changes[key.strip()] = value.strip()
    if args.resume:
        saved_path = Path(args.out) / "config.json"
        if not saved_path.is_file():
            raise FileNotFoundError(f"nothing to resume: {saved_path} does not exist")
        if args.config:
            raise ContrastiveError("--config and --resume do not go together: the run's settings are in "
                                   f"{saved_path}")
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        data = args.data or saved["data"].get("argument")
        if not data:
            raise ContrastiveError(f"{saved_path} does not say where the data is; pass --data")
        return TrainConfig.from_dict(saved["config"]).replace(**changes), data
    if not args.data:
        raise ContrastiveError("--data FILE_OR_DIR is required (or --resume an existing run)")
    return load_config(args.config or "seed002").replace(**changes), args.data


class _Progress:
    """A tqdm bar over the run's steps, on rank 0 only."""

    def __init__(self, enabled: bool, total: int, initial: int, desc: str) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True,
                            file=sys.stderr)

    def __call__(self, info: Any) -> None:
        if self.bar is None:
            return
        key = "objective" if "objective" in info.terms else "loss"
        self.bar.set_postfix({"epoch": f"{info.epoch + 1}/{info.epochs}", key: f"{info.terms[key]:.4g}",
                              "lr": f"{info.lr:.2e}", "samples/s": f"{info.samples_per_s:.0f}"}, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    keys = ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "zeroshot_top1", "zeroshot_majority",
            "objective")
    shown = "  ".join(f"{k} {metrics[k]:.2f}" for k in keys if k in metrics)
    print(f"  {title:<18} {shown}  ({int(metrics.get('pairs', 0))} pairs)")


def _report(result: Any) -> None:
    final = result.final
    print(f"trained {result.steps} steps, {result.epochs_done} epochs -> {result.run_dir}")
    for split in ("val", "train"):
        if split in final:
            _print_metrics(f"{split} (last epoch)", final[split])
    if result.best:
        _print_metrics(f"best (epoch {result.best['epoch']})", result.best)
    print("  percentages; random-init towers score near chance until trained long on real data")


def run(args: argparse.Namespace) -> int:
    from generator.common.device import resolve_device
    from training.contrastive import distributed
    from training.contrastive.trainer import Trainer

    config, data = resolve_config(args)
    out = Path(args.out)
    info = distributed.init_distributed(resolve_device(config.device).type)
    try:
        with _console_beside_bars():
            # after the redirect, which swaps the console handler for one of its own
            log_file = RunLogFile(out / "train.log") if info.is_main else None
            try:
                if args.search:
                    return _run_search(args, config, data, out, info)
                trainer = Trainer(config, data, out, resume=args.resume, dist_info=info)
                progress = _Progress(args.progress and info.is_main, trainer.total_steps, trainer.step,
                                     f"{config.loss} {config.model}")
                try:
                    result = trainer.fit(max_steps=args.max_steps, on_step=progress)
                finally:
                    progress.close()
            finally:
                if log_file is not None:
                    log_file.close()
        if info.is_main:
            _report(result)
        return 0
    finally:
        distributed.shutdown(info)


def _console_beside_bars():
    """Console log lines printed above the progress bar instead of through it."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()


def _run_search(args: argparse.Namespace, config: Any, data: str, out: Path, info: Any) -> int:
    from training.contrastive.data import read_manifest
    from training.contrastive.errors import ContrastiveError
    from training.contrastive.search import search, train_best

    if info.enabled:
        raise ContrastiveError("--search runs its trials one after another in one process; run it without torchrun")
    manifest = read_manifest(data)
    bar = _Progress(args.progress, args.trials, 0, "phase 1 trials")

    def trial_done(trial: Any) -> None:
        if bar.bar is not None:
            bar.bar.set_postfix({"last": f"{trial.value:.2f}" if trial.value is not None else trial.state.name})
            bar.bar.update(1)

    try:
        study = search(config, manifest, out, trials=args.trials, fraction=args.search_fraction,
                       epochs=args.search_epochs, on_trial=trial_done)
    finally:
        bar.close()
    done = [t for t in study.trials if t.value is not None]
    print(f"phase 1: {len(study.trials)} trials in {out / 'search.db'} ({len(done)} complete)")
    if not done:
        return 1
    print(f"  best trial {study.best_trial.number}: objective {study.best_value:.2f} "
          f"{json.dumps(study.best_trial.params)}")
    result = train_best(study, config, data, out)  # the path, so `--resume` of best/ finds it again
    print("phase 2: the best settings on all the data")
    _report(result)
    return 0
