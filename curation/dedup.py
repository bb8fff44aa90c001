"""Near-duplicate detection by embedding cosine similarity.

Two pieces count as near-duplicates when the cosine of their image embeddings is at least a threshold. For CLIP
image embeddings, re-encodings, small crops and the same seed at another size land above ~0.95, distinct pictures
of one subject mostly below ~0.9; the selection policy holds the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from curation.clusters import ArrayLike, as_matrix, l2_normalize

DEFAULT_THRESHOLD = 0.95


@dataclass(frozen=True)
class Duplicate:
    index: int  # row of the query
    of: int  # row of the reference it duplicates (for `duplicate_pairs`: the earlier row)
    cosine: float


def _check_threshold(threshold: float) -> float:
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"a cosine threshold lies in [-1, 1], got {threshold}")
    return float(threshold)


def cosine_matrix(a: ArrayLike, b: ArrayLike) -> Tensor:
    """(N, M) cosine similarities between the rows of a (N, D) and b (M, D)."""
    x, y = as_matrix(a, "a"), as_matrix(b, "b")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"embeddings must have the same width, got {x.shape[1]} and {y.shape[1]}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    return l2_normalize(x.to(dtype)) @ l2_normalize(y.to(dtype)).T


def best_matches(query: ArrayLike, reference: ArrayLike, threshold: float = DEFAULT_THRESHOLD
                 ) -> list[Duplicate | None]:
    """For each query row, its most similar reference row when the cosine is ≥ threshold, else None."""
    threshold = _check_threshold(threshold)
    q = as_matrix(query, "query")
    r = as_matrix(reference, "reference")
    if r.shape[0] == 0 or q.shape[0] == 0:
        return [None] * q.shape[0]
    sims = cosine_matrix(q, r)
    best, idx = sims.max(1)
    return [Duplicate(i, int(j), float(c)) if c >= threshold else None
            for i, (c, j) in enumerate(zip(best.tolist(), idx.tolist(), strict=True))]


def nearest(query: ArrayLike, reference: ArrayLike) -> list[tuple[int, float] | None]:
    """For each query row, (index, cosine) of its most similar reference row (None when there is no reference)."""
    q = as_matrix(query, "query")
    r = as_matrix(reference, "reference")
    if r.shape[0] == 0:
        return [None] * q.shape[0]
    best, idx = cosine_matrix(q, r).max(1)
    return [(int(j), float(c)) for c, j in zip(best.tolist(), idx.tolist(), strict=True)]


def duplicate_pairs(embeddings: ArrayLike, threshold: float = DEFAULT_THRESHOLD) -> list[Duplicate]:
    """Every pair (later row `index`, earlier row `of`) with cosine ≥ threshold, most similar first."""
    threshold = _check_threshold(threshold)
    x = as_matrix(embeddings, "embeddings")
    if x.shape[0] < 2:
        return []
    sims = cosine_matrix(x, x)
    later, earlier = torch.tril_indices(x.shape[0], x.shape[0], offset=-1)
    values = sims[later, earlier]
    keep = values >= threshold
    pairs = [Duplicate(int(i), int(j), float(c))
             for i, j, c in zip(later[keep].tolist(), earlier[keep].tolist(), values[keep].tolist(), strict=True)]
    return sorted(pairs, key=lambda d: (-d.cosine, d.index, d.of))


def duplicate_groups(embeddings: ArrayLike, threshold: float = DEFAULT_THRESHOLD) -> list[list[int]]:
    """Groups of rows linked by near-duplicate pairs (connected components, singletons left out), sorted."""
    n = as_matrix(embeddings, "embeddings").shape[0]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for d in duplicate_pairs(embeddings, threshold):
        a, b = find(d.index), find(d.of)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)
