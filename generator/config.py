"""`GenerateConfig`: every setting of one piece, frozen, JSON-able, checked on creation.

Defaults follow the artist's method (seed 004, "Quantitative analysis of performance": about 300 x 300 pixels and
250-500 steps, after which the image barely changes) and Crowson's VQGAN+CLIP notebook for the optimisation.
Override with `dataclasses.replace(config, steps=500)`; values are checked again.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, fields
from typing import Any

from generator import registry
from generator.common.fields import known_keys
from generator.cutouts import AUGMENTATIONS, DEFAULT_AUGMENTS, CutoutMode
from generator.errors import GeneratorError
from generator.prompts import parse_noise_prompt, parse_prompt, parse_schedule

OPTIMIZERS = ("adam", "adamw", "adamax", "adagrad", "radam", "nadam", "rmsprop", "sgd")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DEFAULT_PRESET = "imagenet_16384"
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class GenerateConfig:
    prompts: tuple[str, ...] = ()  # "text:weight:stop"; negative weights push away
    image_prompts: tuple[str, ...] = ()  # "path:weight:stop"
    noise_prompts: tuple[str, ...] = ()  # "seed:weight": a random embedding as target
    schedule: tuple[str, ...] = ()  # "STEP=prompt|prompt": text prompts from STEP on (story mode)
    init_image: str | None = None  # a photo to distort; the latent starts from its encoding
    init_weight: float = 0.0  # pull toward the init image's latent (MSE); 0 lets it drift freely
    size: tuple[int, int] = (304, 304)  # (W, H); why: the artist's ~300 x 300, rounded to a multiple of 16
    steps: int = 300  # why: the artist found little change after 250-500 steps
    seed: int = 0
    cutn: int = 32  # cutouts per perceptor and step (nerdyrodent's default)
    cut_pow: float = 1.0  # classic cutouts: >1 favours small crops (detail), <1 large ones (composition)
    cutout_mode: str = CutoutMode.CLASSIC.value
    augments: tuple[str, ...] = DEFAULT_AUGMENTS
    noise_fac: float = 0.1  # Gaussian noise up to this strength on each cutout (Crowson)
    lr: float = 0.1  # why: nerdyrodent's step size for Adam on the latent
    optimizer: str = "adam"
    plateau_patience: int = 0  # steps without improvement that make a plateau; 0 = run all steps
    plateau_min_delta: float = 1e-3  # improvement of the smoothed loss that counts
    lr_drop: float = 0.5  # on the first plateau the learning rate is multiplied by this (1 = no drop)
    auto_stop: bool = True  # stop at a plateau once the learning rate has been dropped
    preset: str = DEFAULT_PRESET  # named VQGAN + perceptors (generator/registry/presets/); "tiny" runs offline
    vqgan: str = ""  # overrides the preset: config name, CONFIG:PATH or checkpoint path
    perceptors: tuple[str, ...] = ()  # overrides the preset: "MODEL:PRETRAINED[@weight]", "tiny", paths
    device: str = "auto"  # auto = cuda, else mps, else cpu
    precision: str = "auto"  # auto = bf16/fp16 autocast on CUDA, fp32 elsewhere (never bf16 on CPU)
    compile: bool = False  # torch.compile the decoder and image towers (CUDA; slow first steps)
    save_every: int = 0  # also return the image every N steps (frames); 0 = last step only

    def __post_init__(self) -> None:
        for name in ("prompts", "image_prompts", "noise_prompts", "schedule", "augments", "perceptors"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if not isinstance(self.size, (tuple, list)) or len(self.size) != 2:
            raise GeneratorError(f"size must be two numbers (W, H), got {self.size!r}")
        object.__setattr__(self, "size", (_int("size", self.size[0]), _int("size", self.size[1])))
        object.__setattr__(self, "optimizer", str(self.optimizer).lower())
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
        if self.cutout_mode not in [m.value for m in CutoutMode]:
            raise GeneratorError(f"unknown cutout_mode {self.cutout_mode!r}; known: "
                                 f"{', '.join(m.value for m in CutoutMode)}")
        unknown = [a for a in self.augments if a not in AUGMENTATIONS]
        if unknown:
            raise GeneratorError(f"unknown augmentation(s) {', '.join(unknown)}; known: {', '.join(AUGMENTATIONS)}")
        if not _DEVICE.match(self.device):
            raise GeneratorError(f"device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        if self.precision not in PRECISIONS:
            raise GeneratorError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.device == "cpu" and self.precision in ("fp16", "bf16"):
            raise GeneratorError(f"precision {self.precision} is not offered on CPU (bf16 runs >300x slower there); "
                                 "use fp32 or auto")
        registry.entry("presets", self.preset)  # raises with the known names
        for p in self.prompts:
            parse_prompt(p)
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
            out[f.name] = list(value) if isinstance(value, tuple) else value
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
