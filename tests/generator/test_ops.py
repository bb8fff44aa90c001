"""Straight-through quantisation and clamping with gradient."""

from __future__ import annotations

import torch

from generator.ops import clamp_with_grad, replace_grad, vector_quantize


def test_vector_quantize_snaps_forward_and_passes_gradient_straight_through():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 3.0]])
    x = torch.tensor([[[0.9, 1.2], [-1.5, 2.0]]], requires_grad=True)
    q = vector_quantize(x, codebook)
    assert torch.equal(q, torch.tensor([[[1.0, 1.0], [-2.0, 3.0]]]))
    (q * torch.tensor([2.0, 3.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[[2.0, 3.0], [2.0, 3.0]]]))


def test_clamp_with_grad_keeps_the_gradient_that_leads_back_inside():
    x = torch.tensor([-0.5, 0.5, 1.5], requires_grad=True)
    y = clamp_with_grad(x, 0, 1)
    assert torch.equal(y, torch.tensor([0.0, 0.5, 1.0]))
    y.backward(torch.tensor([-1.0, 1.0, -1.0]))  # descent moves x by -grad: up at -0.5 (inside), up at 1.5 (out)
    assert torch.equal(x.grad, torch.tensor([-1.0, 1.0, 0.0]))


def test_replace_grad_sums_to_the_backward_shape():
    a = torch.zeros(2, 3)
    b = torch.ones(1, 3, requires_grad=True)
    out = replace_grad(a, b)
    assert torch.equal(out, a)
    out.sum().backward()
    assert torch.equal(b.grad, torch.full((1, 3), 2.0))
