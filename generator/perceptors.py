"""CLIP perceptors through open_clip: any `MODEL:PRETRAINED` name, a local file or folder, or `tiny`.

Names: `ViT-B-32:openai` (OpenAI weights use the `-quickgelu` architecture, as they were trained with it),
`ViT-B-32:laion2b_s34b_b79k` (any open_clip tag), `ViT-B-32:/path/weights.safetensors`, `ViT-B-32:random`
(random weights, for benchmarks), `local-dir:/folder` or `/folder` (open_clip_config.json + weights),
`hf-hub:org/repo`, a bare path to one of OpenAI's published `.pt` files (recognised by sha256), and `tiny`
(a small random ViT built by open_clip, for tests). Files are read by `generator.clip_weights`: OpenAI's weights,
in their TorchScript or state-dict form, get the QuickGELU architecture they were trained with. In a generation
config `@WEIGHT` may follow a name to weight that perceptor's losses in an ensemble (`ViT-B-16:openai@0.5`).

Our own architectures are open_clip model configs in `generator/registry/clip/`; `register_clip_configs()` adds them
to open_clip's registry, so the generator, the curators and the trainers build `tiny` by name, from one file.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from generator import checkpoints, registry, weights
from generator.clip_weights import load_into, quickgelu_arch, read_clip_weights
from generator.errors import GeneratorError, WeightsUnavailable

log = logging.getLogger(__name__)

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# `tiny` (registry/clip/tiny.json) is a real open_clip CLIP with a tiny config: the same code path as ViT-B-32, about
# 3.4 M parameters (mostly the token embedding, which keeps open_clip's real 49408-token BPE vocabulary, so real
# prompts tokenise). Average pooling instead of the class token, because a random class token barely depends on the
# image, so nothing could be optimised against it (and the scorer's tiny tower learns image-wide statistics faster).
TINY = "tiny"


@functools.cache
def register_clip_configs() -> None:
    """Add our CLIP architectures (`generator/registry/clip/*.json`, e.g. `tiny`) to open_clip's model registry, once
    per process, so that `open_clip.get_model_config`, `create_model` and `get_tokenizer` know them by name."""
    import open_clip

    open_clip.add_model_config(registry.folder("clip").folder)


class Normalize(nn.Module):
    """Per-channel (x - mean) / std with buffers, so it follows the perceptor across devices."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


class Perceptor(nn.Module):
    """A frozen CLIP model (eval mode, no parameter requires grad) with its tokenizer and normalisation.

    `encode_image` takes images already resized to `input_resolution` and normalised with `preprocess_normalize`
    ((B, 3, R, R) -> (B, embed_dim)); `encode_text` takes strings ((N,) -> (N, embed_dim)). Embeddings are not
    L2-normalised and come back as float32.
    """

    def __init__(self, name: str, model: nn.Module, tokenizer: Any, mean: tuple[float, ...],
                 std: tuple[float, ...], sha256: str) -> None:
        super().__init__()
        self.name = name
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.preprocess_normalize = Normalize(mean, std)
        self.sha256 = sha256
        size = model.visual.image_size
        self.input_resolution = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.embed_dim = int(getattr(model.visual, "output_dim", 0) or model.text_projection.shape[-1])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(x).float()

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts)).to(self.device)
        return self.model.encode_text(tokens).float()

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] of any size -> (B, embed_dim): resized (bicubic) and normalised."""
        r = self.input_resolution
        if images.shape[-2:] != (r, r):
            images = nn.functional.interpolate(images, size=(r, r), mode="bicubic", align_corners=False)
        return self.encode_image(self.preprocess_normalize(images.clamp(0, 1)))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, input_resolution={self.input_resolution}, embed_dim={self.embed_dim}"


def split_weight(spec: str) -> tuple[str, float]:
    """`NAME@WEIGHT` -> (NAME, WEIGHT); a name without `@number` weighs 1."""
    head, sep, tail = spec.rpartition("@")
    if sep:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return spec, 1.0


def load_perceptor(name_or_path: str, device: torch.device | str = "cpu",
                   progress: weights.Progress | None = None) -> Perceptor:
    """Build a frozen perceptor on `device` (see the module docstring for the accepted names)."""
    import open_clip

    register_clip_configs()
    spec = name_or_path.strip()
    if spec == TINY:
        return build_tiny().to(device)
    if spec.startswith(("hf-hub:", "local-dir:")):
        return _from_open_clip(spec, None, spec).to(device)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_open_clip(f"local-dir:{path}", None, spec).to(device)
    if path.is_file():
        return _from_file(None, path, spec).to(device)
    arch, sep, tag = spec.partition(":")
    arch = arch.replace("/", "-")  # OpenAI spells ViT-B/32
    if open_clip.get_model_config(arch) is None:
        raise GeneratorError(f"unknown CLIP model {arch!r} in {spec!r}; use MODEL:PRETRAINED with an open_clip model "
                             "(e.g. ViT-B-32:openai, ViT-B-16:openai, ViT-L-14:openai, RN50:openai; all: "
                             "open_clip.list_models()) or 'tiny'")
    if not sep or not tag:
        raise GeneratorError(f"say which weights CLIP {arch!r} should use: {arch}:TAG with TAG one of "
                             f"{', '.join(_tags(arch)) or '(none known)'}, a file path, or {arch}:random")
    if tag == "random":
        return _from_open_clip(arch, None, spec).to(device)
    tag_path = Path(tag).expanduser()
    if tag_path.is_file() or os.sep in tag or tag.endswith((".pt", ".pth", ".bin", ".safetensors")):
        if not tag_path.is_file():
            raise GeneratorError(f"CLIP weights file {tag!r} (from {spec!r}) does not exist")
        return _from_file(arch, tag_path, spec).to(device)
    entry = weights.find_clip_entry(arch, tag)
    if entry is not None:
        file = weights.fetch(entry.name, progress=progress)
        return _from_file(arch, file, spec).to(device)
    if tag not in _tags(arch):
        raise GeneratorError(f"unknown weights {tag!r} for CLIP {arch!r}; known: {', '.join(_tags(arch)) or 'none'}, "
                             "a file path, or random")
    return _from_open_clip(arch, tag, spec).to(device)


def build_tiny(embed_dim: int | None = None) -> Perceptor:
    """The tiny random perceptor; seeded, so every machine builds the same weights. `embed_dim` overrides the width of
    the shared embedding (the scorer's text head matches it to a custom tower's); the default is tiny.json's."""
    import open_clip

    register_clip_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_random(TINY, embed_dim=embed_dim)
    return Perceptor(TINY, model, open_clip.get_tokenizer(TINY), OPENAI_MEAN, OPENAI_STD,
                     weights.tensors_sha256(model.state_dict()))


def _tags(arch: str) -> list[str]:
    import open_clip

    return open_clip.list_pretrained_tags_by_model(arch.removesuffix("-quickgelu"))


def _openai_arch(arch: str, tag: str | None) -> str:
    """OpenAI-trained weights need QuickGELU; use the `-quickgelu` config where open_clip's tag says so."""
    import open_clip

    if tag is None or arch.endswith("-quickgelu"):
        return arch
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if cfg.get("quick_gelu") and open_clip.get_model_config(arch + "-quickgelu") is not None:
        return arch + "-quickgelu"
    return arch


def build_random(arch: str, *, embed_dim: int | None = None, quick_gelu: bool = False) -> nn.Module:
    """An open_clip model (ours or open_clip's) with random weights, built from its config without open_clip's
    download machinery; `embed_dim` overrides the shared embedding's width, `quick_gelu` forces QuickGELU."""
    import open_clip

    register_clip_configs()
    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        raise GeneratorError(f"unknown CLIP model {arch!r}")
    if embed_dim is not None:
        cfg["embed_dim"] = int(embed_dim)
    if quick_gelu:
        cfg["quick_gelu"] = True
    if cfg.pop("custom_text", False) or "hf_model_name" in cfg.get("text_cfg", {}):
        # needs transformers; let open_clip build it
        return open_clip.create_model(arch, pretrained=None, embed_dim=cfg["embed_dim"], force_quick_gelu=quick_gelu)
    return open_clip.CLIP(**cfg)


def _from_open_clip(arch: str, tag: str | None, spec: str) -> Perceptor:
    import open_clip

    if tag is None and not arch.startswith(("hf-hub:", "local-dir:")):
        model = build_random(arch)
        return Perceptor(spec, model, open_clip.get_tokenizer(arch), OPENAI_MEAN, OPENAI_STD, "random")
    cached = _cached_open_clip_file(arch, tag) if tag is not None else None
    if cached is not None:
        return _from_file(_openai_arch(arch, tag), cached, spec)
    if weights.is_offline() and (tag is not None or arch.startswith("hf-hub:")):
        raise WeightsUnavailable(f"CLIP weights {spec!r} are not on this machine and downloads are off "
                                 f"(DSTRTD_OFFLINE/HF_HUB_OFFLINE): {_where_to_get(arch, tag)}")
    arch = _openai_arch(arch, tag)
    try:
        model = open_clip.create_model(arch, pretrained=tag, cache_dir=str(weights.cache_dir() / "open_clip"),
                                       require_pretrained=tag is not None)
    except (RuntimeError, OSError, ValueError) as exc:
        raise WeightsUnavailable(f"CLIP weights {spec!r} could not be loaded ({' '.join(str(exc).split())[:200]}): "
                                 f"{_where_to_get(arch, tag)}") from exc
    pp = getattr(model.visual, "preprocess_cfg", {}) or {}
    mean, std = tuple(pp.get("mean", OPENAI_MEAN)), tuple(pp.get("std", OPENAI_STD))
    tokenizer = open_clip.get_tokenizer(arch)
    return Perceptor(spec, model, tokenizer, mean, std, _sha_of_open_clip(arch, tag))


def _cached_open_clip_file(arch: str, tag: str) -> Path | None:
    """The weights file of an open_clip tag if an earlier download left it in our cache (no network)."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    cache = weights.cache_dir() / "open_clip"
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            found = try_to_load_from_cache(cfg["hf_hub"].rstrip("/"), filename, cache_dir=str(cache))
            if isinstance(found, str):
                return Path(found)
    if cfg.get("url"):
        path = cache / cfg["url"].rsplit("/", 1)[-1]
        if path.is_file():
            return path
    return None


def _where_to_get(arch: str, tag: str | None) -> str:
    """What to download by hand for an open_clip name, and how to pass it."""
    import open_clip

    if arch.startswith("hf-hub:"):
        repo = arch.removeprefix("hf-hub:")
        return (f"download https://huggingface.co/{repo} (open_clip_config.json and open_clip_model.safetensors) "
                "into a folder and pass local-dir:/that/folder")
    cfg = open_clip.get_pretrained_cfg(arch, tag) if tag else {}
    if cfg.get("hf_hub"):
        url = f"https://huggingface.co/{cfg['hf_hub'].rstrip('/')}/resolve/main/open_clip_model.safetensors"
    else:
        url = cfg.get("url") or "the weights"
    return f"download {url} and pass {arch}:/path/to/{url.rsplit('/', 1)[-1]}"


def _sha_of_open_clip(arch: str, tag: str | None) -> str:
    """sha256 of the weights file behind an open_clip name where we can find it, else the name itself."""
    from open_clip.factory import _find_checkpoint_in_dir

    if arch.startswith("local-dir:"):
        found = _find_checkpoint_in_dir(Path(arch.removeprefix("local-dir:")))
        if found:
            return weights.checksum(found)
    if tag is not None and (cached := _cached_open_clip_file(arch, tag)) is not None:
        return weights.checksum(cached)
    return f"open_clip:{arch}:{tag}"


def _from_file(arch: str | None, path: Path, spec: str) -> Perceptor:
    """A perceptor from one weights file (`generator.clip_weights` reads it): OpenAI's weights get the QuickGELU
    architecture they were trained with, whatever name came with them."""
    import open_clip

    checkpoints.check_intact(path)
    sha = weights.checksum(path)
    found = read_clip_weights(path, sha)
    arch = arch or found.arch
    if arch is None:
        raise GeneratorError(f"say which architecture {path} holds: MODEL:{path} (e.g. ViT-B-32:{path})")
    build = arch
    if found.openai:
        twin = quickgelu_arch(arch)
        if twin != arch:
            log.info("%s holds OpenAI's weights, trained with QuickGELU: building %s", path, twin or f"{arch} with "
                     "QuickGELU")
        build = twin or arch
    model = build_random(build, quick_gelu=found.openai)
    load_into(model, found.state_dict, path, build)
    return Perceptor(spec, model.float(), open_clip.get_tokenizer(arch), OPENAI_MEAN, OPENAI_STD, sha)
