"""PLCC, SRCC, MSE and binary accuracy at 5 against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from training.scorer.metrics import binary_accuracy, evaluate, mse, plcc, rankdata, srcc


def test_hand_values():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert plcc(pred, 2 * pred + 1) == pytest.approx(1.0)
    assert plcc(pred, -pred) == pytest.approx(-1.0)
    assert srcc(pred, pred**3) == pytest.approx(1.0)  # monotone, not linear
    assert plcc(pred, pred**3) < 1.0
    assert mse(pred, pred + 2) == pytest.approx(4.0)
    # high means > 5: 6 vs 7 right, 4 vs 6 wrong, 5 vs 4 right (both low), 5.5 vs 5 wrong
    assert binary_accuracy(torch.tensor([6.0, 4.0, 5.0, 5.5]), torch.tensor([7.0, 6.0, 4.0, 5.0])) == 0.5


def test_ranks_average_ties():
    assert rankdata(torch.tensor([3.0, 1.0, 2.0, 2.0])).tolist() == [4.0, 1.0, 2.5, 2.5]
    # Spearman with ties, computed by hand: Pearson of ranks [1, 2.5, 2.5, 4] and [1, 2, 3, 4]
    r = srcc(torch.tensor([1.0, 2.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert r == pytest.approx(4.5 / math.sqrt(4.5 * 5.0))


def test_degenerate_inputs():
    assert math.isnan(plcc(torch.ones(5), torch.arange(5.0)))
    assert math.isnan(plcc(torch.ones(1), torch.ones(1)))
    assert math.isnan(mse(torch.empty(0), torch.empty(0)))
    with pytest.raises(ValueError, match=r"pred and target must both have shape \(N,\), got \(3,\) and \(4,\)"):
        plcc(torch.ones(3), torch.ones(4))


def test_evaluate_keys():
    m = evaluate(torch.tensor([2.0, 6.0, 8.0]), torch.tensor([3.0, 6.5, 7.0]))
    assert set(m) == {"plcc", "srcc", "mse", "acc5", "n"} and m["n"] == 3 and m["acc5"] == 1.0
