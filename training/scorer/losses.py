"""Losses for the aesthetic scorer: each a typed function plus a thin `nn.Module`.

Distribution loss: `emd_loss` over ordered rating bins (seed 000, NIMA). Score losses on the mean rating: `mse_loss`,
`l1_loss`, `mixed_loss` (seed 000: mean of L1, L2 and |error|^3), `huber_loss`, `log_cosh_loss`, `mape_loss` (seed 001).

Every function takes `reduction` ("mean" | "sum" | "none") and an optional per-sample `weight` (B,), e.g. from
`group_weights` to balance themes: "mean" is then the weighted mean sum(w l) / sum(w), "sum" is sum(w l) and "none"
returns w l.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Literal

import torch
from torch import nn

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_weight(weight: torch.Tensor | None, batch: int) -> None:
    if weight is None:
        return
    if weight.ndim != 1 or weight.shape[0] != batch:
        raise ValueError(f"weight must have shape ({batch},) to match the batch, got {tuple(weight.shape)}")


def reduce_loss(per_sample: torch.Tensor, reduction: Reduction = "mean",
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """Reduce per-sample losses (B,) with optional per-sample weights (B,). Weighted "mean" divides by sum(w)."""
    _check_reduction(reduction)
    if per_sample.ndim != 1:
        raise ValueError(f"per-sample losses must have shape (B,), got {tuple(per_sample.shape)}")
    _check_weight(weight, per_sample.shape[0])
    if weight is not None:
        weight = weight.to(per_sample.dtype)
        weighted = per_sample * weight
        if reduction == "none":
            return weighted
        if reduction == "sum":
            return weighted.sum()
        # a batch whose weights are all zero contributes nothing (and no NaN)
        return weighted.sum() / weight.sum().clamp_min(torch.finfo(per_sample.dtype).tiny)
    if reduction == "none":
        return per_sample
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


def group_weights(groups: Sequence[Hashable], power: float = 1.0) -> torch.Tensor:
    """Per-sample weights (N,) that balance groups: w = (N / (G n_g))^power, so with power=1 every group weighs the
    same in total and the weights average 1 over the samples. power=0.5 balances half-way (sqrt inverse frequency)."""
    if len(groups) == 0:
        return torch.empty(0)
    counts = Counter(groups)
    n, g = len(groups), len(counts)
    return torch.tensor([(n / (g * counts[x])) ** power for x in groups], dtype=torch.float32)


# --------------------------------------------------------------------------------------------------------------------
# EMD over ordered bins


def _safe_root(x: torch.Tensor, r: float) -> torch.Tensor:
    """x ** (1/r) for x >= 0 with gradient 0 (not inf * 0 = NaN) at x == 0."""
    positive = x > 0
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, safe ** (1.0 / r), torch.zeros_like(x))


def emd_loss(input: torch.Tensor, target: torch.Tensor, r: float = 1.0, normalized: bool | None = None,
             reduction: Reduction = "mean", weight: torch.Tensor | None = None) -> torch.Tensor:
    """Earth mover's distance between distributions over ordered, evenly spaced bins.

    input, target: (B, K) probabilities (each row sums to 1, K >= 2). Per sample, with the CDF difference d_k:

    - r = 1 (default, seed 000): sum_k |d_k|, the mass moved times the bins it moves. All mass on 5 vs all on 7 -> 2.
    - NIMA (Talebi & Milanfar 2018): (1/K sum_k |d_k|^r)^(1/r), usually r = 2; `normalized=True` (the default for
      r != 1) gives this form.

    The r-th root has gradient 0 at a distance of 0, so input == target never gives NaN gradients.
    """
    _check_reduction(reduction)
    if input.ndim != 2 or target.shape != input.shape:
        raise ValueError(f"input and target must both have shape (B, K), got input {tuple(input.shape)} and target "
                         f"{tuple(target.shape)}")
    if input.shape[1] < 2:
        raise ValueError(f"EMD needs at least 2 bins, got input of shape {tuple(input.shape)}")
    if r < 1:
        raise ValueError(f"r must be >= 1 (|d|^r has an infinite slope at 0 below that), got {r}")
    for name, t in (("input", input), ("target", target)):
        sums = t.detach().sum(dim=1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
            raise ValueError(f"{name} rows must sum to 1 (probabilities over bins); row sums of {name} "
                             f"{tuple(t.shape)} range {sums.min().item():.4g}..{sums.max().item():.4g}")
    _check_weight(weight, input.shape[0])
    if normalized is None:
        normalized = r != 1.0
    k = input.shape[1]
    # the last CDF difference is 0 for distributions (and |x| has no derivative at 0), so it is left out of the sum;
    # NIMA's 1/K still counts it
    diff = (torch.cumsum(input, dim=1) - torch.cumsum(target, dim=1))[:, :-1]
    powered = diff.abs() if r == 1.0 else diff.abs() ** r
    total = powered.sum(dim=1) / k if normalized else powered.sum(dim=1)
    per_sample = total if r == 1.0 else _safe_root(total, r)
    return reduce_loss(per_sample, reduction, weight)


class EMDLoss(nn.Module):
    """`emd_loss` as a module. r=1: seed 000's EMD; r=2: NIMA's normalised squared EMD."""

    def __init__(self, r: float = 1.0, normalized: bool | None = None, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.r, self.normalized, self.reduction = r, normalized, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return emd_loss(input, target, self.r, self.normalized, self.reduction, weight)


# --------------------------------------------------------------------------------------------------------------------
# Score losses


def _check_scores(input: torch.Tensor, target: torch.Tensor) -> None:
    if input.ndim != 1 or target.shape != input.shape:
        raise ValueError(f"input and target must both have shape (B,), got input {tuple(input.shape)} and target "
                         f"{tuple(target.shape)}")


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean",
             weight: torch.Tensor | None = None) -> torch.Tensor:
    """Squared error on scores (B,)."""
    _check_scores(input, target)
    return reduce_loss((input - target) ** 2, reduction, weight)


def l1_loss(input: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean",
            weight: torch.Tensor | None = None) -> torch.Tensor:
    """Absolute error on scores (B,)."""
    _check_scores(input, target)
    return reduce_loss((input - target).abs(), reduction, weight)


def mixed_loss_terms(input: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean",
                     weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The mixed loss and its terms, each reduced: {"l1", "l2", "l3", "loss"} with loss = (l1 + l2 + l3) / 3."""
    _check_scores(input, target)
    err = (input - target).abs()
    terms = {"l1": err, "l2": err**2, "l3": err**3}
    out = {name: reduce_loss(value, reduction, weight) for name, value in terms.items()}
    out["loss"] = (out["l1"] + out["l2"] + out["l3"]) / 3.0
    return out


def mixed_loss(input: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean",
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Seed 000's mixed loss on scores (B,): mean of |e|, e^2 and |e|^3. Prediction 9 vs target 3 -> (6+36+216)/3."""
    return mixed_loss_terms(input, target, reduction, weight)["loss"]


def huber_loss(input: torch.Tensor, target: torch.Tensor, delta: float = 1.0, reduction: Reduction = "mean",
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Huber on scores (B,): e^2/2 for |e| <= delta, delta (|e| - delta/2) beyond (torch's `huber_loss` form)."""
    _check_scores(input, target)
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
    err = (input - target).abs()
    quadratic = 0.5 * err**2
    linear = delta * (err - 0.5 * delta)
    return reduce_loss(torch.where(err <= delta, quadratic, linear), reduction, weight)


def log_cosh_loss(input: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean",
                  weight: torch.Tensor | None = None) -> torch.Tensor:
    """log(cosh(e)) on scores (B,), computed as |e| + log1p(exp(-2|e|)) - log 2 so large errors do not overflow."""
    _check_scores(input, target)
    err = (input - target).abs()
    per_sample = err + torch.nn.functional.softplus(-2.0 * err) - torch.log(torch.tensor(2.0, dtype=err.dtype))
    return reduce_loss(per_sample, reduction, weight)


def mape_loss(input: torch.Tensor, target: torch.Tensor, eps: float = 1e-7, reduction: Reduction = "mean",
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute percentage error on scores (B,), in percent: 100 |e| / max(|target|, eps) (Keras' form)."""
    _check_scores(input, target)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    per_sample = 100.0 * (input - target).abs() / target.abs().clamp_min(eps)
    return reduce_loss(per_sample, reduction, weight)


class _ScoreLoss(nn.Module):
    _fn: Callable[..., torch.Tensor]

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return type(self)._fn(input, target, reduction=self.reduction, weight=weight)


class MSELoss(_ScoreLoss):
    _fn = staticmethod(mse_loss)


class L1Loss(_ScoreLoss):
    _fn = staticmethod(l1_loss)


class MixedLoss(_ScoreLoss):
    _fn = staticmethod(mixed_loss)


class LogCoshLoss(_ScoreLoss):
    _fn = staticmethod(log_cosh_loss)


class HuberLoss(nn.Module):
    def __init__(self, delta: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        if delta <= 0:
            raise ValueError(f"delta must be positive, got {delta}")
        self.delta, self.reduction = delta, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return huber_loss(input, target, self.delta, self.reduction, weight)


class MAPELoss(nn.Module):
    def __init__(self, eps: float = 1e-7, reduction: Reduction = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.eps, self.reduction = eps, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return mape_loss(input, target, self.eps, self.reduction, weight)


# name -> (module factory, reads distributions?). The schedule names losses by these keys.
LOSSES: dict[str, tuple[Callable[[], nn.Module], bool]] = {
    "emd": (lambda: EMDLoss(r=1.0), True),
    "emd2": (lambda: EMDLoss(r=2.0), True),
    "mse": (MSELoss, False),
    "l1": (L1Loss, False),
    "mixed": (MixedLoss, False),
    "huber": (HuberLoss, False),
    "log_cosh": (LogCoshLoss, False),
    "mape": (MAPELoss, False),
}


def make_loss(name: str) -> tuple[nn.Module, bool]:
    """(loss module, True when it compares distributions (B, 10) rather than scores (B,))."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")
    factory, on_distributions = LOSSES[name]
    return factory(), on_distributions
