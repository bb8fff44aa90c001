"""The scorer's losses, each through the house template: smoke, exception message, shapes per reduction, float64
gradcheck, the degenerate point, hand values."""

from __future__ import annotations

import math

import pytest
import torch

from training.scorer.losses import (
    LOSSES,
    EMDLoss,
    HuberLoss,
    L1Loss,
    LogCoshLoss,
    MAPELoss,
    MixedLoss,
    MSELoss,
    emd_loss,
    group_weights,
    huber_loss,
    l1_loss,
    log_cosh_loss,
    make_loss,
    mape_loss,
    mixed_loss,
    mixed_loss_terms,
    mse_loss,
    reduce_loss,
)

SCORE_FUNCTIONS = [mse_loss, l1_loss, mixed_loss, huber_loss, log_cosh_loss, mape_loss]
SCORE_MODULES = [MSELoss, L1Loss, MixedLoss, HuberLoss, LogCoshLoss, MAPELoss]


def onehot(rating: int, k: int = 10, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    t = torch.zeros(1, k, dtype=dtype)
    t[0, rating - 1] = 1.0
    return t


def random_dist(b: int, k: int = 10, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, k, generator=g, dtype=dtype).softmax(dim=1)


# ---------------------------------------------------------------------------------------------------------------- EMD


def test_emd_hand_values_seed000():
    # seed 000: all the mass on 5 against all on 7 moves one unit two bins: EMD 2
    assert emd_loss(onehot(5), onehot(7)).item() == pytest.approx(2.0)
    assert emd_loss(onehot(7), onehot(5)).item() == pytest.approx(2.0)
    assert emd_loss(onehot(1), onehot(10)).item() == pytest.approx(9.0)
    half = torch.zeros(1, 10)
    half[0, 4] = half[0, 6] = 0.5  # half on 5, half on 7, against all on 6: each half moves one bin
    assert emd_loss(half, onehot(6)).item() == pytest.approx(1.0)


def test_emd_nima_form():
    # NIMA r=2: sqrt(mean_k |CDF diff|^2); 5 vs 7 differ by 1 at k=5 and k=6 of 10 bins
    assert emd_loss(onehot(5), onehot(7), r=2).item() == pytest.approx(math.sqrt(2 / 10))
    assert EMDLoss(r=2)(onehot(5), onehot(7)).item() == pytest.approx(math.sqrt(0.2))
    # r=2 without the 1/K normalisation
    assert emd_loss(onehot(5), onehot(7), r=2, normalized=False).item() == pytest.approx(math.sqrt(2))


def test_emd_smoke_module():
    p, q = random_dist(4, dtype=torch.float32), random_dist(4, dtype=torch.float32, seed=1)
    out = EMDLoss()(p, q)
    assert out.shape == () and out.item() > 0
    assert torch.equal(out, emd_loss(p, q))


@pytest.mark.parametrize("reduction, shape", [("mean", ()), ("sum", ()), ("none", (3,))])
def test_emd_shapes(reduction, shape):
    p, q = random_dist(3), random_dist(3, seed=1)
    assert emd_loss(p, q, reduction=reduction).shape == shape
    assert EMDLoss(r=2, reduction=reduction)(p, q).shape == shape


def test_emd_exceptions():
    with pytest.raises(ValueError, match=r"input and target must both have shape \(B, K\), got input \(2, 10\) and "
                                         r"target \(2, 9\)"):
        emd_loss(random_dist(2), random_dist(2, k=9))
    with pytest.raises(ValueError, match=r"got input \(10,\)"):
        emd_loss(random_dist(1)[0], random_dist(1)[0])
    with pytest.raises(ValueError, match=r"input rows must sum to 1.*\(2, 10\)"):
        emd_loss(torch.ones(2, 10), random_dist(2))
    with pytest.raises(ValueError, match="at least 2 bins"):
        emd_loss(torch.ones(2, 1), torch.ones(2, 1))
    with pytest.raises(ValueError, match="r must be >= 1"):
        emd_loss(random_dist(2), random_dist(2), r=0.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        EMDLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\)"):
        emd_loss(random_dist(2), random_dist(2), weight=torch.ones(3))


@pytest.mark.parametrize("r", [1.0, 2.0])
def test_emd_gradcheck(r):
    p = random_dist(3).requires_grad_(True)
    q = random_dist(3, seed=1)
    assert torch.autograd.gradcheck(lambda x: emd_loss(x, q, r=r), (p,))


@pytest.mark.parametrize("r", [1.0, 2.0, 3.0])
def test_emd_degenerate_point_has_finite_gradients(r):
    # prediction == target: the distance is 0 and the root's slope is infinite there; the gradient must not be NaN
    p = random_dist(3).requires_grad_(True)
    loss = emd_loss(p, p.detach().clone(), r=r)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    assert torch.isfinite(p.grad).all()
    # through a softmax, as in training
    logits = torch.randn(2, 10, requires_grad=True)
    emd_loss(logits.softmax(1), logits.detach().softmax(1), r=r).backward()
    assert torch.isfinite(logits.grad).all()


# ---------------------------------------------------------------------------------------------------------- scores


def test_score_losses_hand_values():
    pred, target = torch.tensor([9.0]), torch.tensor([3.0])
    # seed 000's examples: L1 6, L2 36, L3 216; mixed is their mean
    assert l1_loss(pred, target).item() == pytest.approx(6.0)
    assert mse_loss(pred, target).item() == pytest.approx(36.0)
    terms = mixed_loss_terms(pred, target)
    assert {k: v.item() for k, v in terms.items()} == pytest.approx({"l1": 6, "l2": 36, "l3": 216, "loss": 86})
    assert mixed_loss(pred, target).item() == pytest.approx((6 + 36 + 216) / 3)
    assert huber_loss(pred, target).item() == pytest.approx(1.0 * (6 - 0.5))
    assert huber_loss(torch.tensor([3.5]), target).item() == pytest.approx(0.5 * 0.25)
    assert huber_loss(pred, target, delta=2.0).item() == pytest.approx(2.0 * (6 - 1.0))
    assert log_cosh_loss(pred, target).item() == pytest.approx(math.log(math.cosh(6.0)), rel=1e-6)
    assert mape_loss(pred, target).item() == pytest.approx(200.0)
    assert mape_loss(torch.tensor([4.5]), torch.tensor([5.0])).item() == pytest.approx(10.0)


def test_huber_and_log_cosh_match_torch():
    a, b = torch.randn(50) * 4, torch.randn(50) * 4
    assert torch.allclose(huber_loss(a, b, delta=1.5), torch.nn.functional.huber_loss(a, b, delta=1.5))
    big = torch.tensor([1000.0])  # cosh overflows in float32; the stable form does not
    assert log_cosh_loss(big, torch.tensor([0.0])).item() == pytest.approx(1000 - math.log(2))


@pytest.mark.parametrize("fn", SCORE_FUNCTIONS)
def test_score_loss_smoke_and_zero(fn):
    pred, target = torch.tensor([5.0, 6.5, 2.0]), torch.tensor([5.5, 6.5, 3.0])
    out = fn(pred, target)
    assert out.shape == () and out.item() > 0
    assert fn(target, target).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("module", SCORE_MODULES)
@pytest.mark.parametrize("reduction, shape", [("mean", ()), ("sum", ()), ("none", (4,))])
def test_score_loss_shapes(module, reduction, shape):
    pred, target = torch.rand(4) * 9 + 1, torch.rand(4) * 9 + 1
    loss = module(reduction=reduction)
    assert loss(pred, target).shape == shape
    assert loss(pred, target, weight=torch.rand(4)).shape == shape


@pytest.mark.parametrize("fn", SCORE_FUNCTIONS)
def test_score_loss_exceptions(fn):
    with pytest.raises(ValueError, match=r"input and target must both have shape \(B,\), got input \(3, 1\) and "
                                         r"target \(3,\)"):
        fn(torch.ones(3, 1), torch.ones(3))
    with pytest.raises(ValueError, match=r"got input \(3,\) and target \(4,\)"):
        fn(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(torch.ones(3), torch.ones(3), reduction="max")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\) to match the batch, got \(3, 1\)"):
        fn(torch.ones(3), torch.ones(3), weight=torch.ones(3, 1))


def test_parameter_exceptions():
    with pytest.raises(ValueError, match="delta must be positive"):
        HuberLoss(delta=0)
    with pytest.raises(ValueError, match="eps must be positive"):
        mape_loss(torch.ones(2), torch.ones(2), eps=0)
    with pytest.raises(ValueError, match="unknown loss 'cubic'; known: emd"):
        make_loss("cubic")


@pytest.mark.parametrize("fn", SCORE_FUNCTIONS)
def test_score_loss_gradcheck(fn):
    g = torch.Generator().manual_seed(0)
    pred = (torch.rand(5, generator=g, dtype=torch.float64) * 9 + 1).requires_grad_(True)
    target = torch.rand(5, generator=g, dtype=torch.float64) * 9 + 1
    weight = torch.rand(5, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: fn(x, target), (pred,))
    assert torch.autograd.gradcheck(lambda x: fn(x, target, weight=weight), (pred,))


@pytest.mark.parametrize("fn", SCORE_FUNCTIONS)
def test_score_loss_degenerate_point(fn):
    # prediction == target: zero loss, finite (zero) gradients
    x = torch.tensor([4.0, 7.0], requires_grad=True)
    loss = fn(x, x.detach().clone())
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(x.grad).all() and torch.allclose(x.grad, torch.zeros(2), atol=1e-6)


# -------------------------------------------------------------------------------------------------- group weighting


def test_weighted_reduction_values():
    per = torch.tensor([1.0, 2.0, 3.0])
    w = torch.tensor([1.0, 0.0, 3.0])
    assert reduce_loss(per, "mean", w).item() == pytest.approx((1 + 9) / 4)
    assert reduce_loss(per, "sum", w).item() == pytest.approx(10.0)
    assert torch.equal(reduce_loss(per, "none", w), torch.tensor([1.0, 0.0, 9.0]))
    assert reduce_loss(per, "mean", torch.zeros(3)).item() == 0.0  # all-zero weights: no NaN
    # weighted EMD: the unweighted second sample does not count
    p = torch.cat([onehot(5), onehot(5)])
    q = torch.cat([onehot(7), onehot(5)])
    assert emd_loss(p, q, weight=torch.tensor([1.0, 0.0])).item() == pytest.approx(2.0)


def test_group_weights_balance_groups():
    groups = ["reef"] * 6 + ["forest"] * 2
    w = group_weights(groups)
    assert w.shape == (8,)
    assert w[:6].sum().item() == pytest.approx(w[6:].sum().item())  # each group weighs the same in total
    assert w.mean().item() == pytest.approx(1.0)
    half = group_weights(groups, power=0.5)
    assert half[6].item() == pytest.approx(math.sqrt(w[6].item()))
    assert torch.equal(group_weights(groups, power=0.0), torch.ones(8))
    assert group_weights([]).shape == (0,)


def test_registry_covers_every_loss():
    assert set(LOSSES) == {"emd", "emd2", "mse", "l1", "mixed", "huber", "log_cosh", "mape"}
    for name in LOSSES:
        module, on_dist = make_loss(name)
        assert isinstance(module, torch.nn.Module)
        assert on_dist == name.startswith("emd")
