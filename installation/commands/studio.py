"""`dstrtd studio`: run the studio worker (queue -> generate -> curate -> catalog) until stopped."""

from __future__ import annotations

import argparse
from typing import Any

from installation.commands._common import add_studio_argument
from installation.commands._options import add_config_options, config_from_args
from installation.worker.options import WorkerOptions

GENERATOR_OVERRIDES = ("size", "steps", "cutn", "cut_pow", "lr", "optimizer")


def add_generator_overrides(parser: argparse.ArgumentParser) -> None:
    """Generator settings shared by `studio` and `queue`, derived from the `GenerateConfig` fields they set (their
    defaults are the preset's, so `--help` shows the config's)."""
    from generator.config import GenerateConfig

    add_config_options(parser.add_argument_group("generator settings"), GenerateConfig, only=GENERATOR_OVERRIDES)


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
