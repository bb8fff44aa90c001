"""Autograd helpers of VQGAN+CLIP (Crowson's notebook): straight-through quantisation and clamping."""

from __future__ import annotations

import torch


class _ReplaceGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_forward: torch.Tensor, x_backward: torch.Tensor) -> torch.Tensor:
        ctx.shape = x_backward.shape
        return x_forward

    @staticmethod
    def backward(ctx, grad_in: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, grad_in.sum_to_size(ctx.shape)


def replace_grad(x_forward: torch.Tensor, x_backward: torch.Tensor) -> torch.Tensor:
    """The value of `x_forward` with the gradient flowing to `x_backward`."""
    return _ReplaceGrad.apply(x_forward, x_backward)


class _ClampWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_in: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        # Outside the range, keep only the gradient that pushes back inside, so saturated pixels can recover.
        return grad_in * (grad_in * (x - x.clamp(ctx.lo, ctx.hi)) >= 0), None, None


def clamp_with_grad(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return _ClampWithGrad.apply(x, lo, hi)


def vector_quantize(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Nearest code for each vector of x (..., D) from codebook (N, D); straight-through gradient to x."""
    d = x.pow(2).sum(-1, keepdim=True) + codebook.pow(2).sum(1) - 2 * x @ codebook.T
    x_q = codebook[d.argmin(-1)]
    return replace_grad(x_q, x)
