"""The spherical-distance loss of VQGAN+CLIP: a typed function and thin modules over it.

`spherical_distance` is half the squared great-circle distance between directions, times 4 (Crowson's
`2 * arcsin(|x - y| / 2) ** 2`): 0 for equal directions, pi**2 / 8 ~ 1.23 for orthogonal ones, pi**2 / 2 for
opposite ones. With CLIP a text and an image that match score ~0.6-0.7, an unrelated noise image ~0.9 (the
artist's loss curves in seed 004 go from 0.90 to 0.65).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from generator.ops import replace_grad

Reduction = Literal["none", "mean", "sum"]


def spherical_distance(x: torch.Tensor, y: torch.Tensor, reduction: Reduction = "none") -> torch.Tensor:
    """x (..., D), y (..., D), broadcastable -> distances (...) (or their mean/sum). Inputs need not be normalised."""
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"spherical_distance needs the same last dimension, got x {tuple(x.shape)} "
                         f"and y {tuple(y.shape)}")
    chord = (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=-1)
    # arcsin's slope is infinite at 1 (opposite directions): stop just below, where the gradient stays finite.
    d = chord.div(2).clamp(max=1 - 1e-7).arcsin().pow(2).mul(2)
    if reduction == "mean":
        return d.mean()
    if reduction == "sum":
        return d.sum()
    if reduction != "none":
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', not {reduction!r}")
    return d


class SphericalDistanceLoss(nn.Module):
    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return spherical_distance(x, y, self.reduction)


class PromptLoss(nn.Module):
    """Distance of image embeddings to one prompt's target embedding(s), signed and weighted.

    `embed` (M, D) holds the target (M > 1 for an image prompt seen through several cutouts). Forward takes image
    embeddings (N, D) and returns `|weight| * mean(sign(weight) * d)` over all N x M pairs; once a distance falls
    below `stop` it no longer pulls (its gradient is zero), its value still counts.
    """

    def __init__(self, embed: torch.Tensor, weight: float = 1.0, stop: float = -math.inf) -> None:
        super().__init__()
        if embed.dim() != 2:
            raise ValueError(f"PromptLoss needs a target embedding (M, D), got {tuple(embed.shape)}")
        self.register_buffer("embed", embed.detach().float())
        self.register_buffer("weight", torch.as_tensor(float(weight)))
        self.register_buffer("stop", torch.as_tensor(float(stop)))

    def forward(self, image_embeds: torch.Tensor) -> torch.Tensor:
        if image_embeds.dim() != 2 or image_embeds.shape[1] != self.embed.shape[1]:
            raise ValueError(f"PromptLoss needs image embeddings (N, {self.embed.shape[1]}), "
                             f"got {tuple(image_embeds.shape)}")
        d = spherical_distance(image_embeds[:, None, :], self.embed[None, :, :]) * self.weight.sign()
        return self.weight.abs() * replace_grad(d, torch.maximum(d, self.stop)).mean()
