"""The scorer's eyes: an open_clip image tower with CLIP's preprocessing inside, built by name or from its config.

`build_tower("tiny")`, `build_tower("ViT-B-32:openai")` (weights through `generator.perceptors`: its registry, cache
and offline rules) or `build_tower(TowerConfig)` (a saved tower, random weights, ready for a strict load). The tower
returns L2-normalised embeddings that every scorer head reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from curation.scorer.errors import ScorerError
from generator.common.fields import known_keys
from generator.perceptors import OPENAI_MEAN, OPENAI_STD, TINY, build_random, register_clip_configs

# open_clip builds towers as part of a CLIP model; this text tower is the smallest it accepts and is thrown away.
_THROWAWAY_TEXT_CFG: dict[str, Any] = {"context_length": 4, "vocab_size": 8, "width": 8, "heads": 1, "layers": 1}


@dataclass(frozen=True)
class TowerConfig:
    """How to rebuild an image tower: an open_clip model by name ("tiny", small enough to train from scratch on two
    CPU cores in seconds; "ViT-B-32"), or a custom tower from its own `vision_cfg`."""

    model: str
    embed_dim: int
    image_size: int
    pretrained: str | None = None  # open_clip tag or file the weights came from (provenance; rebuilding never loads it)
    quick_gelu: bool = False  # OpenAI's weights were trained with QuickGELU; the tower must match to reuse them
    vision_cfg: dict[str, Any] | None = None  # a custom tower's open_clip vision config; None: `model`'s own
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    interpolation: str = "bicubic"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TowerConfig:
        values = known_keys(data, cls, ScorerError, "tower config keys")
        for key in ("mean", "std"):
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        return cls(**values)


def parse_tower_spec(spec: str) -> tuple[str, str | None]:
    """"ViT-B-32:openai" -> ("ViT-B-32", "openai"); "tiny" -> ("tiny", None). A pretrained part may be a file path."""
    model, sep, pretrained = spec.partition(":")
    if not model:
        raise ScorerError(f"empty tower name in {spec!r}; use 'tiny' or an open_clip model like 'ViT-B-32:openai'")
    return model, (pretrained or None) if sep else None


class ClipImageTower(nn.Module):
    """An open_clip image tower with CLIP's preprocessing inside.

    `forward(images)` takes (B, 3, H, W) in [0, 1] at any size, resizes the shorter side to `image_size`, centre-crops,
    normalises with CLIP's mean/std and returns L2-normalised embeddings (B, embed_dim). Differentiable throughout.
    """

    def __init__(self, config: TowerConfig, visual: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.visual = visual
        # not persistent: they follow from the config, so checkpoints hold weights only
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W) in [0, 1], got {tuple(images.shape)}")
        images = images.to(self.mean.dtype)
        size = self.config.image_size
        h, w = images.shape[-2:]
        if (h, w) != (size, size):
            scale = size / min(h, w)
            new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
            mode = self.config.interpolation if self.config.interpolation in ("bicubic", "bilinear") else "bilinear"
            images = F.interpolate(images, size=(new_h, new_w), mode=mode, align_corners=False, antialias=True)
            top, left = (new_h - size) // 2, (new_w - size) // 2
            images = images[:, :, top:top + size, left:left + size]
        images = images.clamp(0.0, 1.0)  # bicubic overshoots
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.visual(self.preprocess(images))
        if isinstance(features, tuple):  # towers built with output_tokens return (pooled, tokens)
            features = features[0]
        return F.normalize(features.float(), dim=-1)


def load_tower_perceptor(spec: str | TowerConfig) -> Any | None:
    """The CLIP model behind a pretrained tower spec ("ViT-B-32:openai", "NAME:/path"), loaded once so that its image
    side (`build_tower(..., perceptor=)`) and its text side (a logits-per-text head) need not load it twice; None for
    towers without pretrained weights ("tiny", "NAME", "NAME:random", a `TowerConfig`)."""
    if isinstance(spec, TowerConfig):
        return None
    model, pretrained = parse_tower_spec(spec)
    if model == TINY or not pretrained or pretrained == "random":
        return None
    from generator.perceptors import load_perceptor

    return load_perceptor(f"{model}:{pretrained}", device="cpu")


def build_tower(spec: str | TowerConfig, *, load_pretrained: bool = True,
                device: torch.device | str = "cpu", perceptor: Any | None = None) -> ClipImageTower:
    """Build an image tower: "tiny", an open_clip model name ("ViT-B-32", random weights), "NAME:TAG"
    ("ViT-B-32:openai") or "NAME:/path/to/weights"; "NAME:random" is the same as "NAME".

    Pretrained weights come through `generator.perceptors` (its registry, cache and offline rules); the tower is
    unfrozen. A `TowerConfig` rebuilds a saved tower with random weights, ready for a strict `load_state_dict`.
    `perceptor`: the spec's CLIP model already loaded (`load_tower_perceptor`), to take the image tower from.
    """
    import open_clip

    register_clip_configs()
    if isinstance(spec, TowerConfig):
        config, pretrained = spec, None
    else:
        model, pretrained = parse_tower_spec(spec)
        if not load_pretrained or pretrained == "random":
            pretrained = None
        if model == TINY and pretrained and not os.path.isfile(pretrained):
            raise ScorerError("the tiny tower has no published weights; use 'tiny' alone, or tiny:/path/to/weights")
        config = _named_tower_config(model, pretrained)

    if config.vision_cfg is not None:
        visual = open_clip.CLIP(embed_dim=config.embed_dim, vision_cfg=dict(config.vision_cfg),
                                text_cfg=dict(_THROWAWAY_TEXT_CFG), quick_gelu=config.quick_gelu).visual
    elif pretrained:
        visual, mean, std = _pretrained_visual(config.model, pretrained, device, perceptor)
        # record what was built (OpenAI weights come with QuickGELU), so a saved tower rebuilds the same
        config = replace(config, mean=mean, std=std, quick_gelu=_uses_quick_gelu(visual))
    else:
        try:
            visual = build_random(config.model, quick_gelu=config.quick_gelu).visual
        except Exception as exc:
            raise ScorerError(f"could not build open_clip model {config.model!r}: {exc}") from exc
    return ClipImageTower(config, visual).to(device)


def _uses_quick_gelu(module: nn.Module) -> bool:
    return any(type(m).__name__ == "QuickGELU" for m in module.modules())


def _pretrained_visual(model: str, pretrained: str, device: torch.device | str, perceptor: Any | None = None
                       ) -> tuple[nn.Module, tuple[float, float, float], tuple[float, float, float]]:
    """The image tower of `generator.perceptors.load_perceptor("MODEL:PRETRAINED")`, unfrozen for fine-tuning.

    The perceptor loader owns the hard cases (the weights registry and cache, OpenAI's TorchScript files, offline
    errors that say where to put the file); its errors carry `exit_code` and propagate as they are.
    """
    if perceptor is None:
        from generator.perceptors import load_perceptor

        perceptor = load_perceptor(f"{model}:{pretrained}", device="cpu")
    visual = perceptor.model.visual.float().requires_grad_(True)
    norm = perceptor.preprocess_normalize
    mean = tuple(float(v) for v in norm.mean.flatten())
    std = tuple(float(v) for v in norm.std.flatten())
    return visual, mean, std  # type: ignore[return-value]


def _named_tower_config(model: str, pretrained: str | None) -> TowerConfig:
    import open_clip

    register_clip_configs()
    cfg = open_clip.get_model_config(model)
    if cfg is None:
        raise ScorerError(f"unknown tower {model!r}: use 'tiny' or an open_clip model such as ViT-B-32, ViT-B-16, "
                          f"ViT-L-14 (known: {', '.join(open_clip.list_models()[:20])}, ...)")
    # an unknown tag or a missing file is left to generator.perceptors, whose errors say what exists
    tag_cfg = open_clip.get_pretrained_cfg(model, pretrained) if pretrained and not os.path.isfile(pretrained) else {}
    vision = cfg["vision_cfg"]
    image_size = vision.get("image_size", 224)
    if isinstance(image_size, (tuple, list)):
        image_size = int(image_size[0])
    quick_gelu = bool(cfg.get("quick_gelu", False) or tag_cfg.get("quick_gelu", False)
                      or (pretrained is not None and "openai" in pretrained.lower()))
    return TowerConfig(
        model=model, pretrained=pretrained, quick_gelu=quick_gelu, embed_dim=int(cfg["embed_dim"]),
        image_size=int(image_size), vision_cfg=None,
        mean=tuple(tag_cfg.get("mean", OPENAI_MEAN)), std=tuple(tag_cfg.get("std", OPENAI_STD)),
        interpolation=str(tag_cfg.get("interpolation", "bicubic")),
    )
