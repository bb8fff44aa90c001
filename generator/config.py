"""`GenerateConfig`: every setting of one piece, frozen, JSON-able, checked on creation.

Defaults follow the artist's method (seed 004, "Quantitative analysis of performance": about 300 x 300 pixels and
250-500 steps, after which the image barely changes) and Crowson's VQGAN+CLIP notebook for the optimisation.
Override with `dataclasses.replace(config, steps=500)`; values are checked again. Allowed values are types
(`Optimizer`, `Precision`, `Augment`, `CutoutMode`), and each field carries its help, so `dstrtd generate --help` is
derived from this class. Imports no torch: the command line reads it cheaply.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Literal, get_args

from generator import registry
from generator.common.fields import known_keys, setting
from generator.errors import GeneratorError
from generator.prompts import SYNTAX, parse_noise_prompt, parse_prompt, parse_prompts, parse_schedule, split_prompts
from generator.vqgan_config import check_size, named_config

Optimizer = Literal["adam", "adamw", "adamax", "adagrad", "radam", "nadam", "rmsprop", "sgd"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]
# kornia augmentations of the cutouts, by name (`generator.cutouts` builds them)
Augment = Literal["flip", "affine", "perspective", "jitter", "erasing", "sharpness", "noise", "rotation", "elastic",
                  "thin_plate", "crop", "resized_crop"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
PRECISIONS: tuple[str, ...] = get_args(Precision)
AUGMENTATIONS: tuple[str, ...] = get_args(Augment)
DEFAULT_AUGMENTS: tuple[Augment, ...] = ("flip", "affine", "perspective", "jitter")
DEFAULT_PRESET = "imagenet_16384"
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class CutoutMode(StrEnum):
    """How cutouts are taken (see `generator.cutouts`)."""

    CLASSIC = "classic"  # random square crops of sizes drawn with cut_pow (Crowson)
    POOLED = "pooled"  # the whole image average- and max-pooled, cutn times (nerdyrodent's "latest")


def parse_mode(mode: str | CutoutMode) -> CutoutMode:
    try:
        return CutoutMode(mode)
    except ValueError:
        raise GeneratorError(f"unknown cutout_mode {mode!r}; known: {', '.join(m.value for m in CutoutMode)}") from None


def check_augments(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise GeneratorError(f"unknown augmentation(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(AUGMENTATIONS)}")


@dataclass(frozen=True)
class GenerateConfig:
    """The settings of one piece. Each field is also a `dstrtd generate` option of the same name, with this help."""

    prompts: tuple[str, ...] = setting((), f"text prompts {SYNTAX}; a negative weight pushes away", cli=False)
    image_prompts: tuple[str, ...] = setting((), "images whose CLIP embedding is a target", metavar="PATH[:W[:STOP]]")
    noise_prompts: tuple[str, ...] = setting((), "random embeddings drawn from SEED as targets", metavar="SEED[:W]")
    schedule: tuple[str, ...] = setting(
        (), "story mode: from STEP on, these text prompts replace the others (e.g. '150=a bleached reef:1|glitch:0.5')",
        metavar="STEP=P|P")
    init_image: str | None = setting(None, "a photo to distort: the latent starts from its encoding", metavar="PATH")
    init_weight: float = setting(0.0, "pull toward the init image's latent (MSE); 0 lets it drift freely")
    # why: the artist's ~300 x 300, rounded to a multiple of 16
    size: tuple[int, int] = setting((304, 304), "width and height in pixels, multiples of the VQGAN's cell",
                                    metavar=("W", "H"))
    # why: the artist found little change after 250-500 steps
    steps: int = setting(300, "optimisation steps (the artist: 250-500 at ~300x300)")
    seed: int = setting(0, "random seed; same seed + settings + device = same image")
    cutn: int = setting(32, "cutouts per perceptor and step")  # why: nerdyrodent's default
    cut_pow: float = setting(1.0, "classic cutouts: >1 favours small crops (detail), <1 large ones (composition)")
    cutout_mode: CutoutMode = setting(CutoutMode.CLASSIC, "how cutouts are taken")
    augments: tuple[Augment, ...] = setting(DEFAULT_AUGMENTS, "kornia augmentations of the cutouts (give the flag "
                                            "alone for none)")
    noise_fac: float = setting(0.1, "Gaussian noise up to this strength on each cutout")  # why: Crowson's
    lr: float = setting(0.1, "learning rate of the latent")  # why: nerdyrodent's step size for Adam
    optimizer: Optimizer = setting("adam", "optimiser of the latent")
    plateau_patience: int = setting(0, "steps without improvement that make a plateau (0 = run all steps)")
    plateau_min_delta: float = setting(1e-3, "improvement of the smoothed loss that counts")
    lr_drop: float = setting(0.5, "learning-rate factor on the first plateau (1 = no drop)")
    auto_stop: bool = setting(True, "stop at the next plateau once the learning rate has been dropped")
    preset: str = setting(DEFAULT_PRESET, "named VQGAN + perceptors (see --presets); 'tiny' runs offline with "
                          "random weights")
    vqgan: str = setting("", "VQGAN config name, CONFIG:PATH or checkpoint path (overrides the preset)",
                         metavar="NAME|NAME:PATH|PATH", show="the preset's")
    perceptors: tuple[str, ...] = setting((), "CLIP perceptors: MODEL:PRETRAINED, tiny or paths, each optionally "
                                          "@WEIGHT (override the preset)", metavar="MODEL:PRETRAINED[@W]",
                                          show="the preset's")
    device: str = setting("auto", "auto (cuda, else mps, else cpu), cpu, cuda, cuda:N or mps")
    precision: Precision = setting("auto", "autocast dtype: auto = bf16/fp16 on CUDA, fp32 elsewhere (CPU is "
                                   "always fp32)")
    compile: bool = setting(False, "torch.compile the decoder and image towers (CUDA; slow first steps)")
    save_every: int = setting(0, "also keep the image every N steps as frames (0 = the last step only)")

    def __post_init__(self) -> None:
        for name in ("prompts", "image_prompts", "noise_prompts", "schedule", "augments", "perceptors"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        object.__setattr__(self, "prompts", split_prompts(self.prompts))  # "a:1|b:-0.5" is two prompts
        if not isinstance(self.size, (tuple, list)) or len(self.size) != 2:
            raise GeneratorError(f"size must be two numbers (W, H), got {self.size!r}")
        object.__setattr__(self, "size", (_int("size", self.size[0]), _int("size", self.size[1])))
        object.__setattr__(self, "optimizer", str(self.optimizer).lower())
        object.__setattr__(self, "cutout_mode", parse_mode(self.cutout_mode))
        for name in ("steps", "seed", "cutn", "save_every", "plateau_patience"):
            object.__setattr__(self, name, _int(name, getattr(self, name)))
        self._check()

    def _check(self) -> None:
        if self.steps < 1:
            raise GeneratorError(f"steps must be at least 1, got {self.steps}; the artist used 250-500")
        if self.cutn < 1:
            raise GeneratorError(f"cutn must be at least 1, got {self.cutn}")
        if self.save_every < 0 or self.plateau_patience < 0:
            raise GeneratorError("save_every and plateau_patience must be 0 (off) or positive")
        if min(self.size) < 1:
            raise GeneratorError(f"size must be positive, got {self.size[0]}x{self.size[1]}")
        for name in ("init_weight", "cut_pow", "noise_fac", "lr", "plateau_min_delta", "lr_drop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GeneratorError(f"{name} must be a finite number, got {value!r}")
        if self.lr <= 0 or self.cut_pow <= 0:
            raise GeneratorError(f"lr and cut_pow must be positive, got lr={self.lr}, cut_pow={self.cut_pow}")
        if self.noise_fac < 0 or self.init_weight < 0 or not 0 < self.lr_drop <= 1:
            raise GeneratorError("noise_fac and init_weight must be >= 0 and lr_drop in (0, 1]")
        if self.optimizer not in OPTIMIZERS:
            raise GeneratorError(f"unknown optimizer {self.optimizer!r}; known: {', '.join(OPTIMIZERS)}")
        check_augments(self.augments)
        if not _DEVICE.match(self.device):
            raise GeneratorError(f"device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        if self.precision not in PRECISIONS:
            raise GeneratorError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.device == "cpu" and self.precision in ("fp16", "bf16"):
            raise GeneratorError(f"precision {self.precision} is not offered on CPU (bf16 runs >300x slower there); "
                                 "use fp32 or auto")
        preset = registry.entry("presets", self.preset)  # raises with the known names
        vqgan = named_config(self.vqgan or preset["vqgan"])
        if vqgan is not None:  # why here: `dstrtd queue` refuses what a worker would fail on, before it is queued
            check_size(self.size, vqgan.factor, f"VQGAN {vqgan.name!r} of preset {self.preset!r} works in "
                                                f"{vqgan.factor}-pixel cells")
        parse_prompts(self.prompts)
        for p in self.image_prompts:
            parse_prompt(p, "image prompt")
        for p in self.noise_prompts:
            parse_noise_prompt(p)
        parse_schedule(self.schedule)
        if not (self.prompts or self.image_prompts or self.noise_prompts or self.schedule):
            raise GeneratorError('give at least one prompt, e.g. "a coral reef:1" (or an image or noise prompt)')

    # --- presets ----------------------------------------------------------------------------------------------

    def resolved(self) -> GenerateConfig:
        """This config with `vqgan` and `perceptors` taken from the preset where they are empty."""
        preset = registry.entry("presets", self.preset)
        return dataclasses.replace(self, vqgan=self.vqgan or preset["vqgan"],
                                   perceptors=self.perceptors or tuple(preset["perceptors"]))

    # --- JSON -------------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value.value if isinstance(value, StrEnum) \
                else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "settings") -> GenerateConfig:
        """Build from `to_dict()` output; unknown keys raise (a typo must not be silently ignored)."""
        values = known_keys(data, cls, GeneratorError, "setting(s)", source)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise GeneratorError(f"{name} must be a whole number, got {value!r}")
    return value
