"""Clustering of fused image ⊕ prompt embeddings: seeded k-means with k-means++ initialisation.

Seed 003 fuses an image's visual features with its caption's features by concatenation; here both come from one
contrastive encoder, each L2-normalised first so neither modality dominates by scale, then weighted. The clusters
show the themes a studio actually produces and let the selection keep a diverse set (a quota per cluster).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[Sequence[float]]


def as_matrix(x: ArrayLike, name: str = "x") -> Tensor:
    """A (N, D) float tensor on the CPU (float64 kept, everything else float32)."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).detach().cpu()
    if t.dtype != torch.float64:
        t = t.float()
    if t.ndim != 2:
        raise ValueError(f"{name} must be a (N, D) matrix of embeddings, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return t


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Rows scaled to unit length (zero rows stay zero)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def fuse(image: ArrayLike, text: ArrayLike, weights: tuple[float, float] = (1.0, 1.0)) -> Tensor:
    """Fused embeddings `[w_i * image / |image|, w_t * text / |text|]`, shape (N, D_image + D_text).

    With both weights 1 the squared distance between two fused rows is the sum of the two modalities' cosine
    distances (times 2), so k-means on them groups pieces that look alike *and* were asked for alike.
    """
    img, txt = as_matrix(image, "image"), as_matrix(text, "text")
    if img.shape[0] != txt.shape[0]:
        raise ValueError(f"image and text embeddings must have the same number of rows, got {img.shape[0]} "
                         f"and {txt.shape[0]}")
    w_img, w_txt = (float(w) for w in weights)
    if w_img < 0 or w_txt < 0 or w_img + w_txt == 0:
        raise ValueError(f"fusion weights must be non-negative and not both zero, got {weights}")
    dtype = torch.promote_types(img.dtype, txt.dtype)
    return torch.cat([w_img * l2_normalize(img.to(dtype)), w_txt * l2_normalize(txt.to(dtype))], dim=1)


@dataclass(frozen=True)
class KMeansResult:
    labels: Tensor  # (N,) int64 in [0, k), numbered by first appearance so equal partitions give equal labels
    centroids: Tensor  # (k, D)
    distances: Tensor  # (N,) Euclidean distance of each point to its own centroid
    inertia: float  # sum of squared distances to own centroids (the k-means objective)
    n_iter: int

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    def sizes(self) -> list[int]:
        return torch.bincount(self.labels, minlength=self.k).tolist()


def auto_k(n: int, max_k: int = 12) -> int:
    """A default number of clusters for n pieces: round(sqrt(n / 2)) (the rule of thumb), in [1, max_k]."""
    return max(1, min(max_k, n, round(math.sqrt(n / 2))))


def kmeans_plus_plus(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre drawn with probability ∝ D(x)²."""
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    centres = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:  # fewer distinct points than k: any point will do
            idx = int(torch.randint(n, (1,), generator=generator))
        else:
            idx = int(torch.multinomial((d2 / total).float(), 1, generator=generator))
        centres.append(x[idx])
        d2 = torch.minimum(d2, ((x - x[idx]) ** 2).sum(1))
    return torch.stack(centres)


def _lloyd(x: Tensor, centroids: Tensor, max_iter: int, tol: float) -> tuple[Tensor, Tensor, Tensor, int]:
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        d2 = torch.cdist(x, centroids).pow(2)
        labels = d2.argmin(1)
        new = centroids.clone()
        for j in range(centroids.shape[0]):
            members = labels == j
            if members.any():
                new[j] = x[members].mean(0)
            else:  # an empty cluster takes the point farthest from its own centre
                far = int(d2.gather(1, labels[:, None]).squeeze(1).argmax())
                new[j] = x[far]
                labels[far] = j
        shift = float((new - centroids).pow(2).sum())
        centroids = new
        if shift <= tol:
            break
    d2 = torch.cdist(x, centroids).pow(2)
    labels = d2.argmin(1)
    return labels, centroids, d2.gather(1, labels[:, None]).squeeze(1), n_iter


def _relabel(labels: Tensor, centroids: Tensor) -> tuple[Tensor, Tensor]:
    order: list[int] = []
    for lab in labels.tolist():
        if lab not in order:
            order.append(lab)
    order += [j for j in range(centroids.shape[0]) if j not in order]
    mapping = torch.empty(len(order), dtype=torch.long)
    mapping[torch.tensor(order)] = torch.arange(len(order))
    return mapping[labels], centroids[torch.tensor(order)]


def kmeans(x: ArrayLike, k: int, *, seed: int = 0, n_init: int = 4, max_iter: int = 100,
           tol: float = 1e-8) -> KMeansResult:
    """Lloyd's k-means on the rows of `x` (N, D), k-means++ seeded, best of `n_init` runs; deterministic for a seed."""
    data = as_matrix(x)
    n = data.shape[0]
    if n == 0:
        raise ValueError("k-means needs at least one point")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of points ({n}), got {k}")
    if n_init < 1 or max_iter < 1:
        raise ValueError(f"n_init and max_iter must be at least 1, got {n_init} and {max_iter}")
    generator = torch.Generator().manual_seed(int(seed))
    best: tuple[float, Tensor, Tensor, Tensor, int] | None = None
    for _ in range(n_init):
        labels, centroids, d2, n_iter = _lloyd(data, kmeans_plus_plus(data, k, generator), max_iter, tol)
        inertia = float(d2.sum())
        if best is None or inertia < best[0] - 1e-12:
            best = (inertia, labels, centroids, d2, n_iter)
    assert best is not None
    inertia, labels, centroids, d2, n_iter = best
    labels, centroids = _relabel(labels, centroids)
    return KMeansResult(labels=labels, centroids=centroids, distances=d2.clamp_min(0).sqrt(), inertia=inertia,
                        n_iter=n_iter)


def cluster_fused(image: ArrayLike, text: ArrayLike, k: int | None = None, *, weights: tuple[float, float] = (1.0, 1.0),
                  seed: int = 0, max_k: int = 12) -> KMeansResult:
    """k-means over fused image ⊕ text embeddings; `k=None` picks `auto_k`."""
    fused = fuse(image, text, weights)
    return kmeans(fused, k if k is not None else auto_k(fused.shape[0], max_k), seed=seed)
