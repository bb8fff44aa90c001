"""Spherical distance and the prompt loss: the house test template (smoke, errors, shapes, gradcheck, degenerate)."""

from __future__ import annotations

import math

import pytest
import torch

from generator.losses import PromptLoss, SphericalDistanceLoss, spherical_distance


def test_hand_computed_values():
    e = torch.eye(3)
    assert spherical_distance(e[0], e[0]).item() == pytest.approx(0.0, abs=1e-6)
    assert spherical_distance(e[0], e[1]).item() == pytest.approx(math.pi ** 2 / 8)  # orthogonal
    assert spherical_distance(e[0], -e[0]).item() == pytest.approx(math.pi ** 2 / 2, rel=1e-3)  # opposite
    assert spherical_distance(3 * e[0], 0.5 * e[1]).item() == pytest.approx(math.pi ** 2 / 8)  # scale-free


@pytest.mark.parametrize(("reduction", "shape"), [("none", (4, 5)), ("mean", ()), ("sum", ())])
def test_shapes_per_reduction(reduction, shape):
    x, y = torch.randn(4, 1, 8), torch.randn(1, 5, 8)
    assert spherical_distance(x, y, reduction).shape == shape
    assert SphericalDistanceLoss(reduction)(x, y).shape == shape


def test_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"x \(2, 3\) and y \(2, 4\)"):
        spherical_distance(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="reduction"):
        spherical_distance(torch.randn(3), torch.randn(3), "max")
    with pytest.raises(ValueError, match=r"image embeddings \(N, 4\), got \(2, 3\)"):
        PromptLoss(torch.randn(1, 4))(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"\(M, D\)"):
        PromptLoss(torch.randn(4))


def test_gradcheck_float64():
    x = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: spherical_distance(a, b, "mean"), (x, y))


def test_degenerate_point_has_finite_gradients():
    x = torch.randn(2, 6, requires_grad=True)
    spherical_distance(x, x.detach().clone(), "sum").backward()
    assert torch.isfinite(x.grad).all()
    y = torch.randn(6)
    z = (-y).clone().requires_grad_(True)  # opposite directions: arcsin's slope is infinite there
    spherical_distance(z, y).backward()
    assert torch.isfinite(z.grad).all()


def test_prompt_loss_sign_weight_and_stop():
    target = torch.randn(1, 8)
    image = torch.randn(5, 8, requires_grad=True)
    d = spherical_distance(image[:, None], target[None]).mean()
    assert PromptLoss(target, 2.0)(image).item() == pytest.approx(2 * d.item(), rel=1e-5)
    assert PromptLoss(target, -0.5)(image).item() == pytest.approx(-0.5 * d.item(), rel=1e-5)
    # below `stop` the prompt stops pulling: same value, no gradient
    stopped = PromptLoss(target, 1.0, stop=10.0)
    stopped(image).backward()
    assert stopped(image).item() == pytest.approx(d.item(), rel=1e-5)
    assert image.grad.abs().sum() == 0
    # buffers travel with the module
    assert set(dict(stopped.named_buffers())) == {"embed", "weight", "stop"}
