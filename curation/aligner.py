"""The aligner: how well a piece matches its prompt and its theme, as CLIP cosines of image vs text embeddings.

A piece's value is the weighted mean cosine with its own positive prompts (the `text:weight:stop` prompts it was
made from, read by `generator.common.prompts.read_prompts`), mixed with the weighted mean cosine with its theme's
positive prompts: `(1 - t) * prompt + t * theme` with `t = theme_weight`. Negative prompts do not count toward the
value; their cosines are reported in the details.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from curation.embeddings import Encoder, load_encoder
from generator.common.prompts import PromptSpec, read_prompts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alignment:
    value: float | None  # None when there was nothing to align with (no positive prompt, no theme)
    prompt: float | None  # weighted mean cosine with the piece's positive prompts
    theme: float | None  # weighted mean cosine with the theme's positive prompts
    details: dict[str, Any] = field(default_factory=dict)


def _weighted(cosines: dict[str, float], prompts: Sequence[PromptSpec]) -> float | None:
    positive = [p for p in prompts if p.weight > 0]
    total = sum(p.weight for p in positive)
    if not positive or total <= 0:
        return None
    return sum(p.weight * cosines[p.text] for p in positive) / total


class Aligner:
    """Scores image-text alignment with any `Encoder`; text embeddings are cached per text."""

    curator = "alignment"

    def __init__(self, encoder: Encoder, theme_weight: float = 0.5) -> None:
        if not 0.0 <= theme_weight <= 1.0:
            raise ValueError(f"theme_weight lies in [0, 1], got {theme_weight}")
        self.encoder = encoder
        self.theme_weight = float(theme_weight)
        self._text_cache: dict[str, Tensor] = {}

    @property
    def version(self) -> str:
        return f"{self.encoder.name}@{self.encoder.version}" if self.encoder.version else self.encoder.name

    def text_features(self, texts: Sequence[str]) -> Tensor:
        """(N, D) L2-normalised text embeddings, computed once per distinct text."""
        missing = sorted({t for t in texts if t not in self._text_cache})
        if missing:
            for text, emb in zip(missing, self.encoder.encode_texts(missing), strict=True):
                self._text_cache[text] = emb
        if not texts:
            return torch.zeros(0, 0)
        return torch.stack([self._text_cache[t] for t in texts])

    def prompt_features(self, prompts: str | Sequence[str]) -> Tensor | None:
        """One (D,) embedding for a piece's prompt: the weighted mean of its positive prompts, normalised."""
        parsed = [p for p in read_prompts(prompts) if p.weight > 0]
        if not parsed:
            return None
        embs = self.text_features([p.text for p in parsed])
        weights = torch.tensor([p.weight for p in parsed], dtype=embs.dtype)[:, None]
        mean = (weights * embs).sum(0)
        return mean / mean.norm().clamp_min(1e-12)

    def align_features(self, image_features: Tensor, prompts: Sequence[str | Sequence[str]],
                       theme_prompts: Sequence[Sequence[str] | None]) -> list[Alignment]:
        """Alignments for B images given their (B, D) normalised embeddings, B prompts and B theme prompt lists."""
        if image_features.ndim != 2:
            raise ValueError(f"image_features must be (B, D), got shape {tuple(image_features.shape)}")
        b = image_features.shape[0]
        if len(prompts) != b or len(theme_prompts) != b:
            raise ValueError(f"need one prompt and one theme prompt list per image: {b} images, {len(prompts)} "
                             f"prompts, {len(theme_prompts)} theme prompt lists")
        own = [read_prompts(p) for p in prompts]
        theme = [read_prompts(t or ()) for t in theme_prompts]
        texts = sorted({p.text for ps in own + theme for p in ps})
        cos_by_text: list[dict[str, float]] = [{} for _ in range(b)]
        if texts:
            sims = image_features.float().cpu() @ self.text_features(texts).T  # (B, T); text embeddings live on the CPU
            for i in range(b):
                cos_by_text[i] = dict(zip(texts, sims[i].tolist(), strict=True))
        out = []
        for i in range(b):
            c = cos_by_text[i]
            p_value, t_value = _weighted(c, own[i]), _weighted(c, theme[i])
            if p_value is not None and t_value is not None:
                value: float | None = (1 - self.theme_weight) * p_value + self.theme_weight * t_value
            else:
                value = p_value if p_value is not None else t_value
            details = {
                "prompts": {p.text: round(c[p.text], 6) for p in own[i]},
                "theme_prompts": {p.text: round(c[p.text], 6) for p in theme[i]},
                "prompt_value": p_value, "theme_value": t_value, "theme_weight": self.theme_weight,
                "encoder": self.version,
            }
            out.append(Alignment(value=value, prompt=p_value, theme=t_value, details=details))
        return out

    def align(self, images: Tensor, prompts: Sequence[str | Sequence[str]],
              theme_prompts: Sequence[Sequence[str] | None] | None = None) -> list[Alignment]:
        """Alignments for (B, 3, H, W) images in [0, 1]."""
        feats = self.encoder.encode_images(images)
        return self.align_features(feats, prompts, theme_prompts if theme_prompts is not None else [None] * len(feats))


def load_aligner(spec: str = "tiny", device: str = "cpu", theme_weight: float = 0.5) -> Aligner:
    return Aligner(load_encoder(spec, device), theme_weight=theme_weight)
