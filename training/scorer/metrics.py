"""Evaluation of an aesthetic scorer: PLCC, SRCC, MSE and binary accuracy at 5, on (N,) predicted and true scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from training.scorer.losses import make_loss


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.ndim != 1 or pred.shape != target.shape:
        raise ValueError(f"pred and target must both have shape (N,), got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")


def plcc(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Pearson linear correlation; NaN when either side is constant or N < 2."""
    _check(pred, target)
    if pred.numel() < 2:
        return math.nan
    x, y = pred.double() - pred.double().mean(), target.double() - target.double().mean()
    denom = x.norm() * y.norm()
    return float((x @ y) / denom) if denom > 0 else math.nan


def rankdata(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1..N with ties given their average rank (scipy's "average" method)."""
    x = x.double()
    sorted_x, order = torch.sort(x, stable=True)
    _, inverse, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    average = ends - (counts.double() - 1.0) / 2.0  # mean of the ranks ends - counts + 1 .. ends
    ranks = torch.empty_like(x)
    ranks[order] = average[inverse]
    return ranks


def srcc(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Spearman rank correlation (Pearson on average ranks)."""
    _check(pred, target)
    return plcc(rankdata(pred), rankdata(target))


def mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    _check(pred, target)
    return float(((pred.double() - target.double()) ** 2).mean()) if pred.numel() else math.nan


def binary_accuracy(pred: torch.Tensor, target: torch.Tensor, threshold: float = 5.0) -> float:
    """Share of images put on the right side of `threshold` (AVA's high/low split: high means score > 5)."""
    _check(pred, target)
    if not pred.numel():
        return math.nan
    return float(((pred > threshold) == (target > threshold)).double().mean())


def evaluate(pred: torch.Tensor, target: torch.Tensor, threshold: float = 5.0) -> dict[str, float]:
    """{"plcc", "srcc", "mse", "acc5", "n"} for scores (N,)."""
    return {"plcc": plcc(pred, target), "srcc": srcc(pred, target), "mse": mse(pred, target),
            "acc5": binary_accuracy(pred, target, threshold), "n": float(pred.numel())}


def validation_metrics(pred: torch.Tensor, target: torch.Tensor, probs: torch.Tensor, distributions: torch.Tensor,
                       loss_name: str, groups: Sequence[str] | None = None) -> dict[str, Any]:
    """`evaluate`, the loss `loss_name` (on the (N, 10) `probs` against `distributions` where it compares
    distributions), and with `groups` (one name per image) {"groups": {name: {"plcc", "mse", "n"}}}."""
    metrics: dict[str, Any] = evaluate(pred, target)
    loss_fn, on_distributions = make_loss(loss_name)
    metrics["loss"] = float(loss_fn(probs, distributions) if on_distributions else loss_fn(pred, target))
    if groups is not None:
        per_group = {}
        for g in sorted(set(groups)):
            mask = torch.tensor([x == g for x in groups])
            metrics_g = evaluate(pred[mask], target[mask])
            per_group[g] = {k: metrics_g[k] for k in ("plcc", "mse", "n")}
        metrics["groups"] = per_group
    return metrics
