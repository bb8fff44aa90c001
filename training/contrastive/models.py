"""Image-text encoders for contrastive training: open_clip models with random weights, by name.

Any open_clip architecture name works (`ViT-B-32`, `RN50`, ...); names in `configs/models/` (open_clip's own
model-config format) add small sizes for tests and CPU runs, e.g. `tiny`. Nothing is downloaded: pretrained
weights are never asked for here (`pretrained=None`).
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

from training.contrastive.errors import ContrastiveError

log = logging.getLogger(__name__)

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "configs" / "models"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


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
    return sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json"))


def model_config(name: str) -> dict[str, Any]:
    """open_clip's model-config dict (embed_dim, vision_cfg, text_cfg) for one of ours or an open_clip name."""
    path = MODEL_CONFIG_DIR / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    import open_clip

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

    ours = (MODEL_CONFIG_DIR / f"{name}.json").is_file()
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
    mean = tuple(getattr(model.visual, "image_mean", None) or CLIP_MEAN)
    std = tuple(getattr(model.visual, "image_std", None) or CLIP_STD)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("built %s with random weights: %.1fM parameters, %d px images, embed_dim %d",
             name, n_params / 1e6, size, cfg["embed_dim"])
    return Encoder(name=name, model=model, tokenizer=tokenizer, image_size=size, mean=mean, std=std,  # type: ignore[arg-type]
                   model_cfg=cfg)


def export_open_clip(encoder: Encoder, folder: Path) -> Path:
    """Write `folder/open_clip_config.json` + `open_clip_model.safetensors`, which
    `open_clip.create_model("local-dir:<folder>")` loads back (so the curators can use a trained encoder)."""
    from safetensors.torch import save_file

    from generator.common.files import write_text_atomic as atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": encoder.model_cfg,
        "preprocess_cfg": {"size": encoder.image_size, "mean": list(encoder.mean), "std": list(encoder.std),
                           "interpolation": "bicubic", "resize_mode": "shortest"},
    }
    atomic_write_text(folder / "open_clip_config.json", json.dumps(config, indent=2))
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.model.state_dict().items()}
    tmp = folder / ".open_clip_model.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.chmod(0o644)  # safetensors creates files readable by their owner only
    tmp.replace(folder / "open_clip_model.safetensors")
    return folder
