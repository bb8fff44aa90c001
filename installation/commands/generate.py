"""`dstrtd generate PROMPT... --out DIR`: one piece with VQGAN+CLIP (image, settings, loss trace and plot).

Options are the fields of `generator.config.GenerateConfig` under the same names (`--init_weight`, also spelled
`--init-weight`); `--config settings.json` starts from a saved piece's settings, options given override them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

# (field, argparse keywords, help). Every default is None so that only what the user typed overrides.
_OPTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("image_prompts", {"nargs": "+", "metavar": "PATH[:W[:STOP]]"}, "images whose CLIP embedding is a target"),
    ("noise_prompts", {"nargs": "+", "metavar": "SEED[:W]"}, "random embeddings drawn from SEED as targets"),
    ("schedule", {"nargs": "+", "metavar": "STEP=P|P"},
     "story mode: from STEP on, these text prompts replace the others (e.g. '150=a bleached reef:1|glitch:0.5')"),
    ("init_image", {"metavar": "PATH"}, "a photo to distort: the latent starts from its encoding"),
    ("init_weight", {"type": float}, "how strongly the image stays near the init image (0 = free)"),
    ("size", {"nargs": 2, "type": int, "metavar": ("W", "H")}, "image size in pixels, multiples of the VQGAN factor"),
    ("steps", {"type": int}, "optimisation steps (the artist: 250-500 at ~300x300)"),
    ("seed", {"type": int}, "random seed; same seed + settings + device = same image"),
    ("cutn", {"type": int}, "cutouts per perceptor and step"),
    ("cut_pow", {"type": float}, "classic cutouts: >1 favours small crops, <1 large ones"),
    ("cutout_mode", {"choices": ["classic", "pooled"]}, "how cutouts are taken"),
    ("augments", {"nargs": "*", "metavar": "NAME"}, "kornia augmentations of the cutouts (none: give the flag empty)"),
    ("noise_fac", {"type": float}, "Gaussian noise strength on cutouts"),
    ("lr", {"type": float}, "learning rate"),
    ("optimizer", {}, "adam, adamw, adamax, adagrad, radam, nadam, rmsprop or sgd"),
    ("plateau_patience", {"type": int}, "steps without improvement that make a plateau (0 = off)"),
    ("plateau_min_delta", {"type": float}, "loss improvement that counts"),
    ("lr_drop", {"type": float}, "learning-rate factor on the first plateau"),
    ("auto_stop", {"action": argparse.BooleanOptionalAction}, "stop at the next plateau after the drop"),
    ("preset", {}, "named VQGAN + perceptors (see --presets); 'tiny' runs offline with random weights"),
    ("vqgan", {"metavar": "NAME|NAME:PATH|PATH"}, "VQGAN config (overrides the preset)"),
    ("perceptors", {"nargs": "+", "metavar": "MODEL:PRETRAINED[@W]"}, "CLIP perceptors (override the preset)"),
    ("device", {}, "auto, cpu, cuda, cuda:N or mps"),
    ("precision", {"choices": ["auto", "fp32", "fp16", "bf16"]}, "autocast dtype on CUDA (CPU is always fp32)"),
    ("compile", {"action": argparse.BooleanOptionalAction}, "torch.compile the decoder and image towers"),
    ("save_every", {"type": int}, "also save a frame every N steps (0 = off)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompts", nargs="*", metavar="PROMPT", help='text prompts "text:weight:stop"; a negative '
                        'weight pushes away ("blurry:-0.5")')
    parser.add_argument("--out", type=Path, default=None, help="folder for the piece (default: generated/<time>)")
    parser.add_argument("--config", type=Path, default=None,
                        help="start from these settings (a piece's settings.json); options given override them")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice; 1 for the tiny preset, whose small "
                             "tensors run slower on more threads)")
    parser.add_argument("--presets", action="store_true", help="list the presets and exit")
    for name, kwargs, help_text in _OPTIONS:
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        parser.add_argument(*flags, dest=name, default=None, help=help_text, **kwargs)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings dict: `--config` file, then the options the user gave."""
    from generator.errors import GeneratorError

    settings: dict[str, Any] = {}
    if args.config is not None:
        try:
            loaded = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GeneratorError(f"cannot read --config {args.config}: {exc}") from None
        from generator.config import GenerateConfig

        fields = set(GenerateConfig.field_names())
        settings = {k: v for k, v in loaded.items() if k in fields}  # a settings.json also holds results
    if args.prompts:
        settings["prompts"] = args.prompts
    for name, _, _ in _OPTIONS:
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    return settings


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
    from generator.outputs import write_piece
    from generator.pipeline import check, load_models
    from generator.pipeline import run as run_pipeline

    config = check(GenerateConfig.from_dict(settings_from_args(args), source="the options"))
    threads = args.threads if args.threads is not None else (1 if config.vqgan.startswith("tiny") else None)
    if threads:
        torch.set_num_threads(threads)
    out = args.out or Path("generated") / datetime.now().strftime("%Y%m%d-%H%M%S")

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
