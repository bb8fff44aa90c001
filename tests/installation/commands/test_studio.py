"""`dstrtd studio` options: one per `WorkerOptions` field, named as the field, plus the generator settings."""

from __future__ import annotations

import argparse
import dataclasses

from installation.commands import studio
from installation.commands._options import config_from_args
from installation.worker import WorkerOptions


def _options(argv: list[str]) -> WorkerOptions:
    parser = argparse.ArgumentParser()
    studio.add_arguments(parser)
    args = parser.parse_args(argv)
    return config_from_args(WorkerOptions, args, overrides=studio.generator_overrides(args))


def test_nothing_given_is_the_defaults() -> None:
    assert _options([]) == WorkerOptions()


def test_every_option_sets_its_field() -> None:
    options = _options(["--preset", "tiny", "--device", "cuda:1", "--worker", "gpu1", "--max-jobs", "3", "--idle-exit",
                        "--no-sample", "--poll", "0.5", "--max-nan-restarts", "1", "--scorer", "tiny", "--no-curate",
                        "--sample-seed", "7", "--requeue-running", "--size", "64", "48", "--steps", "20"])
    assert options == dataclasses.replace(
        WorkerOptions(), preset="tiny", device="cuda:1", worker="gpu1", max_jobs=3, idle_exit=True, sample=False,
        poll=0.5, max_nan_restarts=1, scorer="tiny", curate=False, sample_seed=7, requeue_running=True,
        overrides={"size": [64, 48], "steps": 20})


def test_the_preset_help_names_the_generators_default() -> None:
    from generator.config import DEFAULT_PRESET

    [preset] = [f for f in dataclasses.fields(WorkerOptions) if f.name == "preset"]
    assert preset.metadata["show"].startswith(f"{DEFAULT_PRESET},")
