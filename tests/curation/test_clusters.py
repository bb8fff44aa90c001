"""k-means and fusion on constructed embeddings with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curation.clusters import auto_k, cluster_fused, fuse, kmeans, kmeans_plus_plus


def blobs(k: int = 4, per: int = 15, dim: int = 16, spread: float = 0.05, seed: int = 0
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """k well-separated Gaussian blobs (centres ~10 apart, spread 0.05), rows shuffled; returns (x, true labels)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, dim, generator=g) * 10
    x = torch.cat([c + spread * torch.randn(per, dim, generator=g) for c in centres])
    y = torch.arange(k).repeat_interleave(per)
    perm = torch.randperm(k * per, generator=g)
    return x[perm], y[perm]


def same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    pairs = {(int(i), int(j)) for i, j in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_well_separated_blobs_are_recovered_exactly(seed: int) -> None:
    x, y = blobs(seed=seed)
    result = kmeans(x, 4, seed=seed)
    assert same_partition(result.labels, y)
    assert sorted(result.sizes()) == [15, 15, 15, 15]
    for j in range(4):  # each centroid is its blob's mean
        torch.testing.assert_close(result.centroids[j], x[result.labels == j].mean(0))
    assert result.inertia == pytest.approx(float((result.distances ** 2).sum()), rel=1e-5)


def test_labels_are_numbered_by_first_appearance_and_deterministic() -> None:
    x, _ = blobs()
    a, b = kmeans(x, 4, seed=7), kmeans(x, 4, seed=7)
    assert torch.equal(a.labels, b.labels) and torch.equal(a.centroids, b.centroids)
    firsts = [int(torch.nonzero(a.labels == j)[0]) for j in range(4)]
    assert firsts == sorted(firsts) and int(a.labels[0]) == 0


def test_k_equals_n_and_k_one() -> None:
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    all_apart = kmeans(x, 3)
    assert sorted(all_apart.labels.tolist()) == [0, 1, 2] and all_apart.inertia == pytest.approx(0.0, abs=1e-9)
    one = kmeans(x, 1)
    assert one.labels.tolist() == [0, 0, 0]
    torch.testing.assert_close(one.centroids[0], x.mean(0))


def test_fewer_distinct_points_than_k_does_not_crash() -> None:
    x = torch.ones(5, 3)
    result = kmeans(x, 3, seed=0)
    assert result.labels.shape == (5,) and torch.isfinite(result.centroids).all()
    assert result.inertia == pytest.approx(0.0)


def test_kmeans_plus_plus_picks_distinct_far_centres() -> None:
    x, y = blobs(k=3, per=10)
    centres = kmeans_plus_plus(x, 3, torch.Generator().manual_seed(0))
    nearest_blob = {int(y[torch.cdist(c[None], x).argmin()]) for c in centres}
    assert nearest_blob == {0, 1, 2}  # D² sampling lands one centre in each far-apart blob


@pytest.mark.parametrize(("x", "k", "message"), [
    (torch.zeros(3), 1, "must be a \\(N, D\\) matrix"),
    (torch.zeros(3, 2), 4, "k must be between 1 and the number of points \\(3\\)"),
    (torch.zeros(3, 2), 0, "k must be between"),
    (torch.tensor([[0.0, float("nan")]]), 1, "NaN"),
    (torch.zeros(0, 2), 1, "at least one point"),
])
def test_bad_input_is_refused_with_a_message(x: torch.Tensor, k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kmeans(x, k)


def test_fuse_normalises_each_modality_then_concatenates() -> None:
    image = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    text = torch.tensor([[0.0, 0.0, 10.0], [1.0, 0.0, 0.0]])
    fused = fuse(image, text)
    expected = torch.tensor([[0.6, 0.8, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(fused, expected)
    weighted = fuse(image, text, weights=(2.0, 0.5))
    torch.testing.assert_close(weighted[:, :2], 2 * expected[:, :2])
    torch.testing.assert_close(weighted[:, 2:], 0.5 * expected[:, 2:])
    assert fuse(np.ones((2, 4)), np.ones((2, 3))).shape == (2, 7)  # numpy in, too
    with pytest.raises(ValueError, match="same number of rows"):
        fuse(image, text[:1])
    with pytest.raises(ValueError, match="non-negative"):
        fuse(image, text, weights=(0.0, 0.0))


def test_fused_clustering_uses_both_modalities() -> None:
    """Four groups: two looks x two prompts. Images alone give 2 clusters, text alone 2, fused 4."""
    g = torch.Generator().manual_seed(3)
    look = torch.randn(2, 32, generator=g)
    words = torch.randn(2, 32, generator=g)
    idx = torch.arange(40)
    image = look[idx % 2] + 0.02 * torch.randn(40, 32, generator=g)
    text = words[(idx // 2) % 2] + 0.02 * torch.randn(40, 32, generator=g)
    truth = (idx % 2) * 2 + (idx // 2) % 2
    result = cluster_fused(image, text, 4, seed=0)
    assert same_partition(result.labels, truth)
    image_only = cluster_fused(image, text, 2, weights=(1.0, 0.0))
    assert same_partition(image_only.labels, idx % 2)
    text_only = cluster_fused(image, text, 2, weights=(0.0, 1.0))
    assert same_partition(text_only.labels, (idx // 2) % 2)


def test_auto_k() -> None:
    assert [auto_k(n) for n in (1, 2, 8, 50, 10_000)] == [1, 1, 2, 5, 12]
    assert auto_k(3, max_k=12) <= 3
