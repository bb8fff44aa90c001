"""`dstrtd generate PROMPT... --out DIR`: one piece with VQGAN+CLIP (image, settings, loss trace and plot).

Options are derived from the fields of `generator.config.GenerateConfig` (`installation.commands._options`): the same
names (`--init-weight`, also spelled `--init_weight`), types, allowed values and defaults, with each field's help.
`--config settings.json` starts from a saved piece's settings; options given override them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from installation.commands._options import add_config_options, given_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from generator.config import GenerateConfig  # torch-free: building the parser stays cheap
    from generator.prompts import SYNTAX

    parser.add_argument("prompts", nargs="*", metavar="PROMPT",
                        help=f"text prompts {SYNTAX}; a negative weight pushes away")
    parser.add_argument("--out", type=Path, default=None, help="folder for the piece (default: generated/<time>)")
    parser.add_argument("--config", type=Path, default=None,
                        help="start from these settings (a piece's settings.json); options given override them")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice; 1 for the tiny preset, whose small "
                             "tensors run slower on more threads)")
    parser.add_argument("--presets", action="store_true", help="list the presets and exit")
    add_config_options(parser.add_argument_group("settings of the piece"), GenerateConfig)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings dict: `--config` file, then the prompts and options the user gave."""
    from generator.config import GenerateConfig
    from generator.errors import GeneratorError

    settings: dict[str, Any] = {}
    if args.config is not None:
        try:
            loaded = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GeneratorError(f"cannot read --config {args.config}: {exc}") from None
        fields = set(GenerateConfig.field_names())
        settings = {k: v for k, v in loaded.items() if k in fields}  # a settings.json also holds results
    given = given_options(GenerateConfig, args)
    given.pop("prompts", None)  # the positional prompts: none given keeps those of --config
    if args.prompts:
        settings["prompts"] = args.prompts
    return settings | given


def run(args: argparse.Namespace) -> int:
    from generator import registry

    if args.presets:
        for name in registry.names("presets"):
            p = registry.entry("presets", name)
            print(f"{name:26} {p['vqgan']} + {', '.join(p['perceptors'])}\n{'':26} {p['description']}")
        return 0

    import torch
    from tqdm import tqdm

    from generator.config import GenerateConfig
    from generator.errors import WeightsUnavailable
    from generator.outputs import check_output_folder, write_piece
    from generator.pipeline import check, load_models
    from generator.pipeline import run as run_pipeline

    config = GenerateConfig.from_dict(settings_from_args(args), source="the options")
    out = args.out or Path("generated") / datetime.now().strftime("%Y%m%d-%H%M%S")
    check_output_folder(out)  # why before the rest: a piece that cannot be written is not worth generating
    config = check(config)  # the memory a step needs, the image files: before any model loads
    threads = args.threads if args.threads is not None else (1 if config.vqgan.startswith("tiny") else None)
    if threads:
        torch.set_num_threads(threads)

    bars: dict[str, tqdm] = {}

    def download_progress(done: int, total: int | None, filename: str) -> None:
        bar = bars.get(filename)
        if bar is None:
            bar = bars[filename] = tqdm(total=total, unit="B", unit_scale=True, desc=filename, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        models = load_models(config, progress=download_progress)
    except WeightsUnavailable as exc:
        raise WeightsUnavailable(f"{exc}; or use --preset tiny to run offline with random weights") from None
    finally:
        for bar in bars.values():
            bar.close()

    with tqdm(total=config.steps, unit="step", desc="generating", file=sys.stderr, dynamic_ncols=True) as bar:
        def on_step(step: Any) -> None:
            bar.set_postfix(loss=f"{step.loss:.4f}", refresh=False)
            bar.update(1)

        result = run_pipeline(config, models=models, on_step=on_step)
    files = write_piece(out, result)
    meta = result.metadata
    print(f"{out}: {meta['steps_done']} steps in {meta['seconds']:.1f} s, final loss {meta['final_loss']:.4f}")
    for name in sorted(files):
        if not name.startswith("frame-"):
            print(f"  {files[name]}")
    frames = sum(1 for n in files if n.startswith("frame-"))
    if frames:
        print(f"  {frames} frames: {out}/frame-*.png")
    return 0
