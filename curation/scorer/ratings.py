"""The rating scale every scorer head predicts on: a distribution over the ratings 1..10, and its mean."""

from __future__ import annotations

import torch

N_BINS = 10
SCORE_MIN, SCORE_MAX = 1.0, 10.0

# why: one rating either way holds ~2/3 of the mass, about the spread of human votes on one image; it shapes only the
# approximate distribution of public heads and the initial distribution of heads converted from them, never `score`.
PUBLIC_HEAD_SIGMA = 1.0


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


def check_embeddings(embeddings: torch.Tensor, in_dim: int) -> None:
    """Raise a ValueError naming the shapes unless `embeddings` is (B, in_dim)."""
    if embeddings.ndim != 2 or embeddings.shape[1] != in_dim:
        raise ValueError(f"expected embeddings of shape (B, {in_dim}), got {tuple(embeddings.shape)}")
