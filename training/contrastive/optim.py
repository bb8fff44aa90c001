"""Optimizers for the encoder: AdamW, Adam, RAdam, SGD with momentum and RMSprop from torch, and LAMB written here.

Weight decay applies to matrices and convolution kernels only; gains, biases, class tokens and `logit_scale`
(everything with fewer than 2 dimensions) are left undecayed, as open_clip's training does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from training.contrastive.config import OPTIMIZERS
from training.contrastive.errors import ContrastiveError


class LAMB(Optimizer):
    """LAMB (You et al. 2019, "Large batch optimization for deep learning"): Adam's direction with decoupled
    weight decay, rescaled per tensor by the trust ratio ||w|| / ||update||.

    `update = m_hat / (sqrt(v_hat) + eps) + weight_decay * w`, `w <- w - lr * trust * update`, with
    `trust = ||w|| / ||update||` where both norms are positive and 1 otherwise. Groups without weight decay
    (gains, biases) take plain Adam steps unless `always_adapt`, as timm's and NVIDIA's LAMB do.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.01,
                 bias_correction: bool = True, always_adapt: bool = False) -> None:
        if lr <= 0 or eps <= 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid LAMB settings: lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, bias_correction=bias_correction,
                        always_adapt=always_adapt)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LAMB does not take sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                step = float(state["step"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                if group["bias_correction"]:
                    m_hat, v_hat = m / (1 - beta1 ** step), v / (1 - beta2 ** step)
                else:
                    m_hat, v_hat = m, v
                update = m_hat / (v_hat.sqrt() + group["eps"])
                wd = group["weight_decay"]
                if wd:
                    update = update.add(p, alpha=wd)
                if wd or group["always_adapt"]:
                    w_norm, u_norm = p.norm(), update.norm()
                    trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
                    update = update * trust
                p.add_(update, alpha=-group["lr"])
        return loss


def parameter_groups(model: nn.Module, weight_decay: float, extra: Iterable[nn.Module] = ()) -> list[dict]:
    """Trainable parameters of `model` (and `extra` modules) split into decayed and undecayed groups."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for module in (model, *extra):
        for _name, p in module.named_parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(name: str, groups: list[dict], *, lr: float, weight_decay: float, momentum: float = 0.9,
                    betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Optimizer:
    """An optimizer by name over `parameter_groups(...)`; each group keeps its own weight decay."""
    if not groups:
        raise ContrastiveError("the model has no trainable parameters")
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "radam":
        return torch.optim.RAdam(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "lamb":
        return LAMB(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=momentum, eps=eps, weight_decay=weight_decay)
    raise ContrastiveError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
