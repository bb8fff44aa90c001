"""Scorer heads: each reads L2-normalised CLIP image embeddings (B, D) and predicts a distribution over ratings 1..10.

Every head is an `nn.Module` that follows `ScorerHead`: `head(embeddings)` -> (B, 10) probabilities,
`head.score(embeddings)` -> (B,) mean rating in [1, 10], `in_dim`, and a `kind` with `config_dict()` /
`from_config()`, which is all a checkpoint needs (`curation.scorer.checkpoint.HEAD_KINDS` maps kinds to classes).

- `DistributionHead` ("distribution"): ours, trained by `training.scorer`. A softmax over the ten ratings; the score
  is its mean.
- `PublicHead` ("public"): a public pretrained regressor (LAION aesthetic predictor, simulacra,
  improved-aesthetic-predictor) that predicts one scalar. `score` is that scalar clamped to [1, 10]. Its `forward`
  distribution is an approximation: a normal with standard deviation `sigma` centred on the scalar, discretised on
  1..10 (truncated at the ends, so its mean leans towards 5.5 near 1 and 10; `score` never does).
- `curation.scorer.text_head.LogitsPerTextHead` ("logits-per-text"): seed 000's variant, a softmax over CLIP's logits
  against ten rating prompts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from curation.scorer.errors import ScorerError
from curation.scorer.ratings import (
    N_BINS,
    PUBLIC_HEAD_SIGMA,
    SCORE_MAX,
    SCORE_MIN,
    bins,
    check_embeddings,
    discretised_normal_logits,
    distribution_mean,
)
from generator.common.fields import known_keys


class ScorerHead(Protocol):
    """What `AestheticScorer` and its checkpoints need of a head (which is also an `nn.Module`)."""

    kind: ClassVar[str]  # the "type" of the head in scorer.json

    @property
    def in_dim(self) -> int:
        """Width D of the embeddings it reads."""
        ...

    def __call__(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B, 10) probabilities over the ratings 1..10."""
        ...

    def score(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B,) mean rating in [1, 10]."""
        ...

    def config_dict(self) -> dict[str, Any]:
        """JSON-able settings that `from_config` rebuilds the head from (random weights, ready for a strict load)."""
        ...

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Self:
        ...


class _HeadSettings(Protocol):
    in_dim: int

    def to_dict(self) -> dict[str, Any]: ...


C = TypeVar("C", bound=_HeadSettings)


class ConfiguredHead(nn.Module, Generic[C]):
    """A head whose settings are one frozen config dataclass (`config_class`, with `in_dim`, `to_dict`, `from_dict`):
    the `ScorerHead` bookkeeping, written once."""

    config_class: ClassVar[Any]
    config: C

    @property
    def in_dim(self) -> int:
        return self.config.in_dim

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Self:
        return cls(cls.config_class.from_dict(data))


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


class DistributionHead(ConfiguredHead[HeadConfig]):
    """Embedding (B, D) -> probabilities (B, 10) over ratings 1..10. The input is L2-normalised, then scaled."""

    kind: ClassVar[str] = "distribution"
    config_class = HeadConfig

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.input_scale = config.resolved_input_scale()
        self.trunk = _mlp(config.in_dim, config.hidden, config.activation, config.dropouts())
        self.out = nn.Linear(config.hidden[-1] if config.hidden else config.in_dim, N_BINS)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        check_embeddings(embeddings, self.config.in_dim)
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

    kind: ClassVar[str] = "public"

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

    def config_dict(self) -> dict[str, Any]:
        return {"format": self.format, "in_dim": self.in_dim, "sigma": self.sigma}

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> PublicHead:
        values = known_keys(data, ("format", "in_dim", "sigma"), ScorerError, "public head config keys")
        return cls(str(values["format"]), int(values["in_dim"]), float(values.get("sigma", PUBLIC_HEAD_SIGMA)))

    def trunk_layout(self) -> tuple[tuple[int, ...], tuple[float, ...], str]:
        if self.format == "improved-mlp":
            return (1024, 128, 64, 16), (0.2, 0.2, 0.1, 0.0), "none"
        return (), (), "none"

    def raw(self, embeddings: torch.Tensor) -> torch.Tensor:
        check_embeddings(embeddings, self.in_dim)
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
