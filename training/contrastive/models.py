"""Image-text encoders for contrastive training: open_clip models with random weights, by name.

Any open_clip architecture name works (`ViT-B-32`, `RN50`, ...); our own architectures (`generator/registry/clip/`,
open_clip's model-config format, registered with open_clip by `generator.perceptors.register_clip_configs`) add small
sizes for tests and CPU runs: `tiny`, the same tiny CLIP the generator and the scorer use. Nothing is downloaded:
pretrained weights are never asked for here (`pretrained=None`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from generator import registry
from generator.common.files import atomic_path, write_text_atomic
from generator.perceptors import OPENAI_MEAN, OPENAI_STD, register_clip_configs
from training.contrastive.errors import ContrastiveError

log = logging.getLogger(__name__)


@dataclass
class Encoder:
    """A CLIP-style model with what it needs around it.

    `model(images, tokens)` returns L2-normalised `(image_features, text_features, logit_scale)`; `tokenizer`
    maps captions to (n, context_length) int64 tokens; images are (B, 3, image_size, image_size), normalised
    with `mean`/`std`.
    """

    name: str
    model: nn.Module
    tokenizer: Callable[[Sequence[str]], Tensor]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    model_cfg: dict[str, Any]


def local_model_names() -> list[str]:
    return registry.names("clip")


def model_config(name: str) -> dict[str, Any]:
    """open_clip's model-config dict (embed_dim, vision_cfg, text_cfg) for one of ours or an open_clip name."""
    import open_clip

    register_clip_configs()
    cfg = open_clip.get_model_config(name)
    if cfg is None:
        raise ContrastiveError(f"unknown model {name!r}: ours are {', '.join(local_model_names())}; open_clip has "
                               f"{', '.join(open_clip.list_models())}")
    return cfg


def create_encoder(name: str, *, embed_dim: int | None = None, temperature: float = 0.07,
                   learnable_temperature: bool = True, seed: int | None = None) -> Encoder:
    """Build `name` with random weights; `embed_dim` overrides the shared embedding size.

    The model's `logit_scale` starts at log(1/temperature) and takes gradients only when `learnable_temperature`
    (the global losses keep their own temperatures, so their runs leave it frozen).
    """
    import open_clip
    from open_clip.model import CLIP, CustomTextCLIP

    ours = name in local_model_names()
    cfg = dict(model_config(name))
    if embed_dim is not None:
        cfg["embed_dim"] = int(embed_dim)
    text_cfg = cfg.get("text_cfg", {})
    if "hf_model_name" in text_cfg:
        raise ContrastiveError(f"model {name!r} needs a Hugging Face text tower, which cannot be built offline with "
                               "random weights; pick a model with open_clip's own text transformer")
    fork = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    with fork:
        if seed is not None:
            torch.manual_seed(seed)
        if ours:
            model_cls = CustomTextCLIP if cfg.pop("custom_text", False) else CLIP
            model = model_cls(**cfg)
        else:
            model = open_clip.create_model(name, pretrained=None, embed_dim=cfg["embed_dim"],
                                           pretrained_image=False, pretrained_text=False)
    with torch.no_grad():
        model.logit_scale.fill_(float(torch.log(torch.tensor(1.0 / temperature))))
    model.logit_scale.requires_grad_(learnable_temperature)

    context_length = int(text_cfg.get("context_length", 77))
    if ours:
        tokenizer = open_clip.SimpleTokenizer(context_length=context_length)
    else:
        tokenizer = open_clip.get_tokenizer(name)
    size = cfg["vision_cfg"].get("image_size", 224)
    size = int(size[0] if isinstance(size, list | tuple) else size)
    mean = tuple(getattr(model.visual, "image_mean", None) or OPENAI_MEAN)
    std = tuple(getattr(model.visual, "image_std", None) or OPENAI_STD)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("built %s with random weights: %.1fM parameters, %d px images, embed_dim %d",
             name, n_params / 1e6, size, cfg["embed_dim"])
    return Encoder(name=name, model=model, tokenizer=tokenizer, image_size=size, mean=mean, std=std,  # type: ignore[arg-type]
                   model_cfg=cfg)


def export_open_clip(encoder: Encoder, folder: Path) -> Path:
    """Write `folder/open_clip_config.json` + `open_clip_model.safetensors`, which
    `open_clip.create_model("local-dir:<folder>")` loads back (so the curators can use a trained encoder)."""
    from safetensors.torch import save_file

    config = {
        "model_cfg": encoder.model_cfg,
        "preprocess_cfg": {"size": encoder.image_size, "mean": list(encoder.mean), "std": list(encoder.std),
                           "interpolation": "bicubic", "resize_mode": "shortest"},
    }
    write_text_atomic(folder / "open_clip_config.json", json.dumps(config, indent=2))
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.model.state_dict().items()}
    with atomic_path(folder / "open_clip_model.safetensors") as tmp:
        save_file(state, str(tmp))
        tmp.chmod(0o644)  # safetensors creates files readable by their owner only
    return folder
