"""`dstrtd studio`: run the studio worker (queue -> generate -> curate -> catalog) until stopped."""

from __future__ import annotations

import argparse
from typing import Any

from installation.commands._common import add_studio_argument
from installation.commands._options import add_config_options, config_from_args
from installation.worker.options import WorkerOptions

GENERATOR_OVERRIDES = ("size", "steps", "cutn", "cut_pow", "lr", "optimizer")


def add_generator_overrides(parser: argparse.ArgumentParser) -> None:
    """Generator settings shared by `studio` and `queue` (names equal the `GenerateConfig` fields they set; written
    out here because the config's module loads torch, which building the CLI must not)."""
    g = parser.add_argument_group("generator settings")
    g.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=None, help="image size in pixels")
    g.add_argument("--steps", type=int, default=None, help="optimisation steps per piece")
    g.add_argument("--cutn", type=int, default=None, help="cutouts per step")
    g.add_argument("--cut-pow", dest="cut_pow", type=float, default=None, help="cutout size power")
    g.add_argument("--lr", type=float, default=None, help="learning rate")
    g.add_argument("--optimizer", default=None, help="optimiser name (e.g. Adam)")


def generator_overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in GENERATOR_OVERRIDES:
        value = getattr(args, name, None)
        if value is not None:
            out[name] = list(value) if name == "size" else value
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_argument(parser)
    add_config_options(parser.add_argument_group("worker"), WorkerOptions)
    add_generator_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.worker import run_worker

    options = config_from_args(WorkerOptions, args, overrides=generator_overrides(args))
    return run_worker(open_studio(args.studio, args.catalog), options)
