"""The aesthetic scorer: a CLIP image tower and a head that predicts a distribution over ratings 1..10.

Three kinds of head sit on the tower's L2-normalised image embedding:

- `DistributionHead`: ours, trained by `training.scorer`. It predicts a softmax over the ten ratings; the score is
  its mean. Our checkpoints are a folder with `scorer.safetensors` + `scorer.json`, loaded strictly.
- `PublicHead`: a public pretrained regressor (LAION aesthetic predictor, simulacra, improved-aesthetic-predictor)
  that predicts one scalar. `score` is that scalar clamped to [1, 10]. Its `forward` distribution is an
  approximation: a normal with standard deviation `sigma` centred on the scalar, discretised on 1..10 (truncated at the
  ends, so its mean leans towards 5.5 near 1 and 10; `score` never does).
- `curation.text_head.LogitsPerTextHead`: seed 000's "logits per text" variant, a softmax over CLIP's logits against
  ten rating prompts; saved and loaded here like `DistributionHead`.

`load_scorer(spec)` builds either from a name ("tiny", a registry name), a run folder, a checkpoint folder or file, or a
public head file. Nothing here downloads unless a name that needs a download is asked for, and then only through
`generator.weights` / `generator.perceptors` into the cache at $DSTRTD_CACHE (else ~/.cache/dstrtd).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import urllib.error
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from curation.errors import CurationError
from generator.common.errors import DstrtdError
from generator.common.fields import known_keys

log = logging.getLogger(__name__)

N_BINS = 10
SCORE_MIN, SCORE_MAX = 1.0, 10.0
CHECKPOINT_FORMAT = "dstrtd.aesthetic-scorer"
CHECKPOINT_VERSION = 1
WEIGHTS_FILE = "scorer.safetensors"
CONFIG_FILE = "scorer.json"

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# why: one rating either way holds ~2/3 of the mass, about the spread of human votes on one image; it shapes only the
# approximate distribution of public heads and the initial distribution of heads converted from them, never `score`.
PUBLIC_HEAD_SIGMA = 1.0

# A tower small enough to train from scratch on two CPU cores in seconds (tests, the synthetic proof, `--tower tiny`).
# why avg pooling: averaging the patch tokens reads image-wide statistics directly; with CLIP's class-token pooling
# the same tower learned the synthetic brightness/chroma truth more slowly (val PLCC 0.93 vs 0.96 after seed000).
TINY_VISION_CFG: dict[str, Any] = {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8,
                                   "mlp_ratio": 2.0, "pool_type": "avg"}
TINY_EMBED_DIM = 32
# open_clip builds towers as part of a CLIP model; this text tower is the smallest it accepts and is thrown away.
_THROWAWAY_TEXT_CFG: dict[str, Any] = {"context_length": 4, "vocab_size": 8, "width": 8, "heads": 1, "layers": 1}


class ScorerError(CurationError):
    """A scorer spec, checkpoint or head file that cannot be used; the message says why and what to do."""


class ScorerWeightsUnavailable(ScorerError):
    """Weights that are neither in the cache nor downloadable here (offline, or the file is wrong)."""


def bins(device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ratings 1..10 as a (10,) tensor: the support of every distribution here."""
    return torch.arange(1, N_BINS + 1, device=device, dtype=dtype)


def distribution_mean(probs: torch.Tensor) -> torch.Tensor:
    """Mean rating of (B, 10) probabilities over 1..10 -> (B,)."""
    if probs.ndim != 2 or probs.shape[1] != N_BINS:
        raise ValueError(f"expected probabilities of shape (B, {N_BINS}), got {tuple(probs.shape)}")
    # why not `probs @ bins`: under a caller's CUDA autocast that matmul runs in bf16/fp16, and a bf16 rating is
    # off by up to 0.03; a product and a sum stay in (at least) float32
    probs = probs.to(torch.promote_types(probs.dtype, torch.float32))
    return (probs * bins(probs.device, probs.dtype)).sum(dim=-1)


def discretised_normal_logits(center: torch.Tensor, sigma: float = PUBLIC_HEAD_SIGMA) -> torch.Tensor:
    """Logits (B, 10) of a normal N(center, sigma^2) evaluated on 1..10; softmax gives the discretised normal.

    -(k - c)^2 / 2s^2 = (k c - k^2 / 2) / s^2 - c^2 / 2s^2, and the last term is the same for every k, so the logits
    are linear in c: a linear scalar head converts exactly into a linear 10-way head
    (see `DistributionHead.from_public`).
    """
    k = bins(center.device, center.dtype)
    return (center[:, None] * k - 0.5 * k * k) / (sigma * sigma)


# --------------------------------------------------------------------------------------------------------------------
# Tower


@dataclass(frozen=True)
class TowerConfig:
    """How to rebuild an image tower. `model` is "tiny" or an open_clip model name ("ViT-B-32")."""

    model: str = "tiny"
    pretrained: str | None = None  # open_clip tag or file the weights came from (provenance; rebuilding never loads it)
    quick_gelu: bool = False  # OpenAI's weights were trained with QuickGELU; the tower must match to reuse them
    embed_dim: int = TINY_EMBED_DIM
    image_size: int = int(TINY_VISION_CFG["image_size"])
    vision_cfg: dict[str, Any] | None = field(default_factory=lambda: dict(TINY_VISION_CFG))  # tiny/custom towers only
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
    if model == "tiny" or not pretrained or pretrained == "random":
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

    if isinstance(spec, TowerConfig):
        config, pretrained = spec, None
    else:
        model, pretrained = parse_tower_spec(spec)
        if not load_pretrained or pretrained == "random":
            pretrained = None
        if model == "tiny":
            if pretrained:
                raise ScorerError("the tiny tower has no pretrained weights; use 'tiny' alone")
            config = TowerConfig()
        else:
            config = _named_tower_config(model, pretrained)

    if config.model == "tiny" or config.vision_cfg is not None:
        visual = open_clip.CLIP(embed_dim=config.embed_dim, vision_cfg=dict(config.vision_cfg or TINY_VISION_CFG),
                                text_cfg=dict(_THROWAWAY_TEXT_CFG), quick_gelu=config.quick_gelu).visual
    elif pretrained:
        visual, mean, std = _pretrained_visual(config.model, pretrained, device, perceptor)
        # record what was built (OpenAI weights come with QuickGELU), so a saved tower rebuilds the same
        config = replace(config, mean=mean, std=std, quick_gelu=_uses_quick_gelu(visual))
    else:
        try:
            visual = open_clip.create_model(config.model, pretrained=None, force_quick_gelu=config.quick_gelu).visual
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


# --------------------------------------------------------------------------------------------------------------------
# Heads


@dataclass(frozen=True)
class HeadConfig:
    """Our distribution head: optional MLP trunk, then Linear(last, 10) -> softmax over ratings 1..10."""

    in_dim: int
    hidden: tuple[int, ...] = ()
    activation: str = "gelu"  # "gelu" | "relu" | "none" (the improved predictor's MLP has none)
    dropout: tuple[float, ...] | float = 0.0  # one value for every hidden layer, or one per hidden layer
    input_scale: float | None = None  # None -> sqrt(in_dim): unit-variance inputs, as in simulacra's head

    def resolved_input_scale(self) -> float:
        return math.sqrt(self.in_dim) if self.input_scale is None else float(self.input_scale)

    def dropouts(self) -> tuple[float, ...]:
        if isinstance(self.dropout, (int, float)):
            return (float(self.dropout),) * len(self.hidden)
        if len(self.dropout) != len(self.hidden):
            raise ScorerError(f"head dropout {self.dropout} needs one value per hidden layer {self.hidden}")
        return tuple(float(d) for d in self.dropout)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["dropout"] = list(self.dropout) if isinstance(self.dropout, tuple) else self.dropout
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeadConfig:
        values = known_keys(data, cls, ScorerError, "head config keys")
        values["hidden"] = tuple(int(h) for h in values.get("hidden", ()))
        if isinstance(values.get("dropout"), list):
            values["dropout"] = tuple(float(d) for d in values["dropout"])
        return cls(**values)


_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "none": None}


def _mlp(in_dim: int, hidden: Sequence[int], activation: str, dropouts: Sequence[float]) -> nn.Sequential:
    if activation not in _ACTIVATIONS:
        raise ScorerError(f"unknown head activation {activation!r}; known: {sorted(_ACTIVATIONS)}")
    act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = in_dim
    for h, p in zip(hidden, dropouts, strict=True):
        layers.append(nn.Linear(width, h))
        if act is not None:
            layers.append(act())
        if p > 0:
            layers.append(nn.Dropout(p))
        width = h
    return nn.Sequential(*layers)


class DistributionHead(nn.Module):
    """Embedding (B, D) -> probabilities (B, 10) over ratings 1..10. The input is L2-normalised, then scaled."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.input_scale = config.resolved_input_scale()
        self.trunk = _mlp(config.in_dim, config.hidden, config.activation, config.dropouts())
        self.out = nn.Linear(config.hidden[-1] if config.hidden else config.in_dim, N_BINS)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        _check_embeddings(embeddings, self.config.in_dim)
        x = F.normalize(embeddings, dim=-1) * self.input_scale
        return self.out(self.trunk(x))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.logits(embeddings).softmax(dim=-1)

    def score(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Mean rating (B,) of the predicted distribution, in [1, 10] by construction."""
        return distribution_mean(self(embeddings))

    @classmethod
    def from_public(cls, public: PublicHead, sigma: float = PUBLIC_HEAD_SIGMA) -> DistributionHead:
        """A head whose distribution is the discretised normal N(public scalar, sigma^2) on 1..10, exactly.

        The public trunk is copied, and its last Linear(h, 1) (w, b) becomes Linear(h, 10) with rows k w / s^2 and
        biases (k b - k^2 / 2) / s^2 (see `discretised_normal_logits`). Training then moves it like any other head.
        """
        hidden, dropouts, activation = public.trunk_layout()
        head = cls(HeadConfig(in_dim=public.in_dim, hidden=hidden, activation=activation, dropout=dropouts,
                              input_scale=public.input_scale))
        src_linears = [m for m in public.net.modules() if isinstance(m, nn.Linear)]
        dst_linears = [m for m in head.trunk.modules() if isinstance(m, nn.Linear)]
        last = src_linears[-1]
        with torch.no_grad():
            for src, dst in zip(src_linears[:-1], dst_linears, strict=True):
                dst.weight.copy_(src.weight)
                dst.bias.copy_(src.bias)
            k = bins(dtype=last.weight.dtype)
            head.out.weight.copy_(k[:, None] * last.weight / sigma**2)
            head.out.bias.copy_((k * last.bias - 0.5 * k * k) / sigma**2)
        return head


class _LaionLinear(nn.Module):
    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class _ImprovedMLP(nn.Module):
    # Layer indices match upstream's keys layers.{0,2,4,6,7}; upstream has no activations (commented out there).
    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                                    nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


PUBLIC_FORMATS = ("laion-linear", "simulacra-linear", "improved-mlp")


class PublicHead(nn.Module):
    """A public pretrained regressor on CLIP embeddings, wrapped to the scorer's interface.

    `raw(emb)` is the upstream scalar; `score(emb)` clamps it to [1, 10]; `forward(emb)` returns the documented
    approximation N(raw, sigma^2) discretised on 1..10 (so its mean differs from `score` near the ends of the scale).
    """

    def __init__(self, format: str, in_dim: int, sigma: float = PUBLIC_HEAD_SIGMA) -> None:
        super().__init__()
        if format not in PUBLIC_FORMATS:
            raise ScorerError(f"unknown public head format {format!r}; known: {', '.join(PUBLIC_FORMATS)}")
        self.format = format
        self.in_dim = in_dim
        self.sigma = sigma
        # simulacra's AestheticMeanPredictionLinearModel reads normalize(x) * sqrt(D); the others read normalize(x)
        self.input_scale = math.sqrt(in_dim) if format == "simulacra-linear" else 1.0
        self.net: nn.Module = _ImprovedMLP(in_dim) if format == "improved-mlp" else _LaionLinear(in_dim)

    def trunk_layout(self) -> tuple[tuple[int, ...], tuple[float, ...], str]:
        if self.format == "improved-mlp":
            return (1024, 128, 64, 16), (0.2, 0.2, 0.1, 0.0), "none"
        return (), (), "none"

    def raw(self, embeddings: torch.Tensor) -> torch.Tensor:
        _check_embeddings(embeddings, self.in_dim)
        x = F.normalize(embeddings, dim=-1) * self.input_scale
        return self.net(x).squeeze(-1)

    def score(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.raw(embeddings).clamp(SCORE_MIN, SCORE_MAX)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return discretised_normal_logits(self.raw(embeddings), self.sigma).softmax(dim=-1)

    def load_upstream_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Strictly load a state dict with upstream's key names."""
        if self.format == "laion-linear":
            state = {f"linear.{k}": v for k, v in state.items()}
        try:
            self.net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ScorerError(f"{self.format} head does not match its file: {' '.join(str(exc).split())}") from exc


def _check_embeddings(embeddings: torch.Tensor, in_dim: int) -> None:
    if embeddings.ndim != 2 or embeddings.shape[1] != in_dim:
        raise ValueError(f"expected embeddings of shape (B, {in_dim}), got {tuple(embeddings.shape)}")


def detect_public_format(state: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    """(format, embedding width) of an upstream state dict, from its keys and shapes."""
    keys = set(state)
    if keys == {"weight", "bias"} and state["weight"].ndim == 2 and state["weight"].shape[0] == 1:
        return "laion-linear", int(state["weight"].shape[1])
    if keys == {"linear.weight", "linear.bias"} and state["linear.weight"].shape[0] == 1:
        return "simulacra-linear", int(state["linear.weight"].shape[1])
    improved = {f"layers.{i}.{p}" for i in (0, 2, 4, 6, 7) for p in ("weight", "bias")}
    if keys == improved:
        return "improved-mlp", int(state["layers.0.weight"].shape[1])
    raise ScorerError(f"not a known public aesthetic head (keys {sorted(keys)[:8]}); known formats: "
                      f"{', '.join(PUBLIC_FORMATS)}")


def load_public_head(path: str | Path, format: str | None = None) -> PublicHead:
    """Load a public head file (.pth state dict) of any format in `PUBLIC_FORMATS`, detected from its keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"public aesthetic head file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ScorerError(f"cannot read {path} as a PyTorch state dict: {exc}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ScorerError(f"{path} does not hold a state dict of tensors")
    detected, in_dim = detect_public_format(state)
    if format is not None and format != detected:
        raise ScorerError(f"{path} looks like a {detected} head, not {format}")
    head = PublicHead(detected, in_dim)
    head.load_upstream_state_dict({k: v.float() for k, v in state.items()})
    return head.eval()


# --------------------------------------------------------------------------------------------------------------------
# Registry and fetch


@dataclass(frozen=True)
class PublicHeadEntry:
    name: str
    format: str
    file: str
    url: str
    sha256: str
    size: int
    licence: str
    source: str
    clip: str
    in_dim: int
    description: str = ""
    aliases: tuple[str, ...] = ()


def public_heads() -> dict[str, PublicHeadEntry]:
    """The registry in curation/heads/registry.json, by name."""
    text = resources.files("curation").joinpath("heads/registry.json").read_text(encoding="utf-8")
    out = {}
    for name, entry in json.loads(text).items():
        out[name] = PublicHeadEntry(name=name, **{**entry, "aliases": tuple(entry.get("aliases", ()))})
    return out


def public_head_entry(name: str) -> PublicHeadEntry:
    heads = public_heads()
    for entry in heads.values():
        if name == entry.name or name in entry.aliases:
            return entry
    known = sorted([*heads, *(a for e in heads.values() for a in e.aliases)])
    raise ScorerError(f"unknown aesthetic head {name!r}; known: {', '.join(known)}")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def heads_cache_dir() -> Path:
    """Where fetched public heads live: $DSTRTD_CACHE/aesthetic_heads (else ~/.cache/dstrtd/aesthetic_heads)."""
    from generator import weights

    return weights.cache_dir() / "aesthetic_heads"


def fetch_public_head(name: str) -> Path:
    """Path of a registry head in the cache, downloaded (resumable, sha256-checked) first if needed.

    Downloads go through `generator.weights.download` and are off when `generator.weights.is_offline()`
    (DSTRTD_OFFLINE=1 or HF_HUB_OFFLINE=1); the error then says where to put the file.
    """
    from generator import weights

    entry = public_head_entry(name)
    target = heads_cache_dir() / entry.file
    if target.is_file():
        if sha256_file(target) == entry.sha256:
            return target
        log.warning("cached %s has the wrong sha256; fetching it again", target)
        target.unlink()
    where = (f"download {entry.url} (sha256 {entry.sha256}) and put it at {target}, or pass the file's path "
             "instead of the name")
    if weights.is_offline():
        raise ScorerWeightsUnavailable(f"aesthetic head {entry.name!r} is not on this machine and downloads are off "
                                 f"(DSTRTD_OFFLINE/HF_HUB_OFFLINE): {where}")
    log.info("downloading aesthetic head %s from %s", entry.name, entry.url)
    try:
        return weights.download(entry.url, target, sha256=entry.sha256)
    except (OSError, urllib.error.URLError) as exc:
        raise ScorerWeightsUnavailable(
            f"aesthetic head {entry.name!r} could not be downloaded ({exc}): {where}") from exc
    except DstrtdError as exc:  # generator's WeightsUnavailable (wrong sha256): already says what to do
        raise ScorerWeightsUnavailable(str(exc)) from exc


# --------------------------------------------------------------------------------------------------------------------
# The scorer


class AestheticScorer(nn.Module):
    """CLIP image tower + head. `forward(images)` -> (B, 10) probabilities over 1..10; `score(images)` -> (B,).

    Images are (B, 3, H, W) in [0, 1] at any size; the tower resizes and normalises them. Both calls keep the graph
    (wrap them in `torch.no_grad()` to score, leave them as they are to use the scorer as a loss).
    """

    def __init__(self, tower: ClipImageTower, head: nn.Module, name: str = "scorer",
                 version: str = "0", meta: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        # head: DistributionHead, PublicHead or curation.text_head.LogitsPerTextHead
        head_dim = head.config.in_dim if isinstance(head, DistributionHead) else head.in_dim
        if head_dim != tower.embed_dim:
            raise ScorerError(f"head reads {head_dim}-d embeddings but tower {tower.config.model} gives "
                              f"{tower.embed_dim}-d")
        self.tower = tower
        self.head = head
        self.name = name
        self.version = version
        self.meta: dict[str, Any] = dict(meta or {})

    @property
    def image_size(self) -> int:
        return self.tower.image_size

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised CLIP embeddings (B, D) of images (B, 3, H, W) in [0, 1]."""
        return self.tower(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Mean rating (B,) in [1, 10] of images (B, 3, H, W) in [0, 1]."""
        return self.head.score(self.embed(images))

    def forward_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head(embeddings)

    def score_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head.score(embeddings)

    @torch.no_grad()
    def score_images(self, images: Sequence[Any], batch_size: int = 16) -> torch.Tensor:
        """Scores (N,) of PIL images of any sizes, in batches, without gradients."""
        from PIL import Image

        device = next(self.parameters()).device
        out = []
        size = self.image_size
        for start in range(0, len(images), batch_size):
            batch = []
            for img in images[start:start + batch_size]:
                if not isinstance(img, Image.Image):
                    raise TypeError(f"score_images takes PIL images, got {type(img).__name__}")
                batch.append(pil_to_tensor(img, size))
            out.append(self.score(torch.stack(batch).to(device)).cpu())
        return torch.cat(out) if out else torch.empty(0)

    def config_dict(self) -> dict[str, Any]:
        if isinstance(self.head, DistributionHead):
            head = {"type": "distribution", **self.head.config.to_dict()}
        elif isinstance(self.head, PublicHead):
            head = {"type": "public", "format": self.head.format, "in_dim": self.head.in_dim, "sigma": self.head.sigma}
        else:  # a head that names its own kind (curation.text_head)
            head = {"type": self.head.kind, **self.head.config.to_dict()}
        return {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "name": self.name,
                "version": self.version, "bins": list(range(1, N_BINS + 1)), "tower": self.tower.config.to_dict(),
                "head": head, "meta": self.meta}

    def save(self, folder: str | Path) -> Path:
        """Write `scorer.safetensors` + `scorer.json` into `folder` (atomically per file); returns the folder."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        tmp = folder / f".{WEIGHTS_FILE}.tmp"
        save_file(state, str(tmp), metadata={"format": CHECKPOINT_FORMAT, "name": self.name})
        tmp.replace(folder / WEIGHTS_FILE)
        config = self.config_dict()
        config["weights_sha256"] = sha256_file(folder / WEIGHTS_FILE)
        _write_json_atomic(folder / CONFIG_FILE, config)
        return folder


def pil_to_tensor(img: Any, size: int | None = None) -> torch.Tensor:
    """A PIL image -> (3, H, W) float in [0, 1]; with `size`, shorter side resized to it and centre-cropped square."""
    import numpy as np
    from PIL import Image

    img = img.convert("RGB")
    if size is not None:
        w, h = img.size
        scale = size / min(w, h)
        new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
        left, top = (new_w - size) // 2, (new_h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    array = np.asarray(img, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def build_scorer(tower: str | TowerConfig = "tiny", head: HeadConfig | None = None, *, load_pretrained: bool = True,
                 name: str = "scorer", version: str = "0", device: torch.device | str = "cpu") -> AestheticScorer:
    """A new scorer with a fresh `DistributionHead` (default: linear on the tower's embedding)."""
    built = build_tower(tower, load_pretrained=load_pretrained)
    head_cfg = head or HeadConfig(in_dim=built.embed_dim)
    if head_cfg.in_dim != built.embed_dim:
        head_cfg = replace(head_cfg, in_dim=built.embed_dim)
    return AestheticScorer(built, DistributionHead(head_cfg), name=name, version=version).to(device)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> AestheticScorer:
    """Load one of our scorer folders (or its .safetensors / .json file) strictly."""
    from safetensors.torch import load_file

    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(f"{folder} is not a scorer checkpoint: it needs {CONFIG_FILE} and {WEIGHTS_FILE}")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("format") != CHECKPOINT_FORMAT:
        raise ScorerError(f"{config_path} is not a {CHECKPOINT_FORMAT} file (format {config.get('format')!r})")
    if int(config.get("format_version", 0)) > CHECKPOINT_VERSION:
        raise ScorerError(f"{config_path} has format_version {config['format_version']}; this code reads up to "
                          f"{CHECKPOINT_VERSION}: update dstrtd")
    tower = build_tower(TowerConfig.from_dict(config["tower"]))
    head_cfg = dict(config["head"])
    kind = head_cfg.pop("type")
    if kind == "distribution":
        head: nn.Module = DistributionHead(HeadConfig.from_dict(head_cfg))
    elif kind == "public":
        head = PublicHead(head_cfg["format"], int(head_cfg["in_dim"]), float(head_cfg.get("sigma", PUBLIC_HEAD_SIGMA)))
    elif kind == "logits-per-text":
        from curation.text_head import LogitsPerTextHead, TextHeadConfig  # imports this module

        head = LogitsPerTextHead(TextHeadConfig.from_dict(head_cfg))
    else:
        raise ScorerError(f"{config_path}: unknown head type {kind!r}; known: distribution, public, logits-per-text")
    sha = sha256_file(weights_path)
    if config.get("weights_sha256") and config["weights_sha256"] != sha:
        raise ScorerError(f"{weights_path} has sha256 {sha}, but {config_path} expects {config['weights_sha256']}: "
                          "the two files do not belong together")
    scorer = AestheticScorer(tower, head, name=str(config.get("name", folder.name)),
                             version=str(config.get("version", sha[:12])), meta=config.get("meta"))
    state = load_file(str(weights_path))
    try:
        scorer.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ScorerError(f"{weights_path} does not match {config_path}: {' '.join(str(exc).split())}") from exc
    scorer.meta["weights_sha256"] = sha
    return scorer.to(device).eval()


def load_scorer(spec: str, device: torch.device | str = "cpu", *, tower_weights: str | None = None) -> AestheticScorer:
    """Load a scorer from a spec, in eval mode.

    - "tiny": a random tiny tower and head (seeded, the same every time): for tests and offline demos.
    - a folder: one of our checkpoints (scorer.json + scorer.safetensors), or a training run folder holding `scorer/`.
    - a file: our `scorer.safetensors`/`scorer.json`, or a public head .pth (its tower comes from the registry entry
      with the same sha256).
    - a registry name (laion-vit-b-32, simulacra, improved-l14, ...): head fetched through the cache, CLIP tower
      built with its pretrained weights through `generator.perceptors` (`tower_weights` = a local weights file for
      that CLIP model, e.g. OpenAI's ViT-B-32.pt, to stay offline).
    """
    path = Path(spec)
    if spec == "tiny":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            scorer = build_scorer("tiny", name="tiny", version="random-seed0")
        return scorer.to(device).eval()
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            return load_checkpoint(path, device)
        if (path / "scorer" / CONFIG_FILE).is_file():
            return load_checkpoint(path / "scorer", device)
        raise FileNotFoundError(f"{path} holds neither {CONFIG_FILE} nor scorer/{CONFIG_FILE}")
    if path.is_file():
        if path.name in (CONFIG_FILE, WEIGHTS_FILE) or path.suffix == ".safetensors":
            return load_checkpoint(path, device)
        sha = sha256_file(path)
        entry = next((e for e in public_heads().values() if e.sha256 == sha), None)
        if entry is None:
            raise ScorerError(f"{path} is not a registry head (unknown sha256 {sha[:12]}...), so its CLIP tower is "
                              f"unknown; add it to curation/heads/registry.json or build the scorer with "
                              "AestheticScorer(build_tower(...), load_public_head(path))")
        return _public_scorer(entry, path, device, tower_weights)
    if any(sep in spec for sep in ("/", "\\")) or spec.endswith((".pth", ".pt", ".safetensors", ".json")):
        raise FileNotFoundError(f"scorer file or folder not found: {spec}")
    entry = public_head_entry(spec)
    return _public_scorer(entry, fetch_public_head(entry.name), device, tower_weights)


def _public_scorer(entry: PublicHeadEntry, head_path: Path, device: torch.device | str,
                   tower_weights: str | None) -> AestheticScorer:
    head = load_public_head(head_path, entry.format)
    model, _ = parse_tower_spec(entry.clip)
    tower = build_tower(f"{model}:{tower_weights}" if tower_weights else entry.clip)
    scorer = AestheticScorer(tower, head, name=entry.name, version=entry.sha256[:12],
                             meta={"source": entry.source, "licence": entry.licence, "url": entry.url,
                                   "head_sha256": entry.sha256, "clip": entry.clip})
    return scorer.to(device).eval()
