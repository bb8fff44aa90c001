"""Near-duplicate detection on constructed embeddings: duplicates found, non-duplicates not."""

from __future__ import annotations

import math

import pytest
import torch

from curation.dedup import Duplicate, best_matches, cosine_matrix, duplicate_groups, duplicate_pairs, nearest


def unit(angle_deg: float) -> list[float]:
    a = math.radians(angle_deg)
    return [math.cos(a), math.sin(a), 0.0]


def test_cosine_matrix_is_scale_free() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    b = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(cosine_matrix(a, b), torch.tensor([[1.0, 2**-0.5], [0.0, 2**-0.5]]))
    with pytest.raises(ValueError, match="same width"):
        cosine_matrix(a, torch.ones(1, 3))


def test_pairs_at_known_angles() -> None:
    # cos 5° = 0.9962 (duplicate at 0.99), cos 10° = 0.9848 (not), 90° apart clearly not.
    emb = torch.tensor([unit(0), unit(90), unit(5), unit(100), [0.0, 0.0, 1.0]])
    pairs = duplicate_pairs(emb, threshold=0.99)
    assert [(d.index, d.of) for d in pairs] == [(2, 0)]
    assert pairs[0].cosine == pytest.approx(math.cos(math.radians(5)), abs=1e-6)
    looser = duplicate_pairs(emb, threshold=0.98)
    assert {(d.index, d.of) for d in looser} == {(2, 0), (3, 1)}


def test_threshold_is_inclusive_and_checked() -> None:
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert duplicate_pairs(emb, threshold=1.0) == [Duplicate(1, 0, pytest.approx(1.0))]
    with pytest.raises(ValueError, match=r"lies in \[-1, 1\]"):
        duplicate_pairs(emb, threshold=1.5)


def test_groups_are_connected_components() -> None:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 64, generator=g)
    copies = base[[0, 0, 2]] + 1e-3 * torch.randn(3, 64, generator=g)  # two copies of 0, one of 2
    emb = torch.cat([base, copies])  # rows 4, 5 dup 0; row 6 dups 2
    assert duplicate_groups(emb, 0.95) == [[0, 4, 5], [2, 6]]
    assert duplicate_groups(base, 0.95) == []  # random 64-d vectors are far from each other


def test_best_matches_against_a_reference() -> None:
    ref = torch.tensor([unit(0), unit(60)])
    query = torch.tensor([unit(1), unit(30), unit(61)])
    matches = best_matches(query, ref, threshold=0.99)
    assert matches[0] == Duplicate(0, 0, pytest.approx(math.cos(math.radians(1)), abs=1e-6))
    assert matches[1] is None
    assert matches[2].of == 1
    assert best_matches(query, torch.zeros(0, 3)) == [None, None, None]
    assert nearest(query, ref)[1] == (0, pytest.approx(math.cos(math.radians(30)), abs=1e-6))
    assert nearest(query, torch.zeros(0, 3)) == [None, None, None]


def test_single_row_has_no_pairs() -> None:
    assert duplicate_pairs(torch.ones(1, 4)) == []
