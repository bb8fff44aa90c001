"""Contrastive losses for image-text pairs: CLIP's mini-batch loss, SogCLR and iSogCLR (seed 002, section 2.3).

Each loss is a typed function plus a thin `nn.Module`. Inputs are L2-normalised features, (B, D) each, where row i
of the images and row i of the texts are a pair. Under DDP the trainer gathers the global batch first, so the
losses themselves never talk to other ranks.

The global losses estimate, for every anchor i and its negatives j != i, the similarity gaps
`d_ij = s_ij - s_ii` and the mean `g_i = 1/(B-1) sum_j exp(d_ij / tau)`; the objective per anchor is
`tau * log(mean over the whole dataset of exp(d_ij / tau))`, which SogCLR tracks with a per-sample moving average
`u_i <- (1 - gamma) u_i + gamma g_i` (u_i = g_i the first time sample i is seen, as in the reference code).

Why u is stored as log u: at tau = 0.01 the gaps span [-2, 2], so exp(d / tau) reaches e^200, far beyond float32.
The reference code keeps extra per-sample offsets to dodge that overflow; the log keeps the same numbers in range
with one buffer. An unseen sample has log u = -inf.

The value a global loss returns is a surrogate: its gradient is SogCLR's estimator
`sum_j exp(d_ij / tau) / u_i / (B-1) * grad d_ij`, and for a fixed u it is a smooth function of the features
(`tau / (B-1) * sum_j exp(d_ij / tau - log u_i)`), so `gradcheck` applies to the functions with `gamma=0`,
which holds every seen u where it is. Its value hovers near tau; log `terms["objective"]` instead, the current
estimate of the global objective.

Per-sample state lives in registered buffers, so it is in `state_dict()`, moves with `.to()` and survives
checkpoint and resume. Like BatchNorm's running statistics, it only moves while the module is in training mode.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.contrastive.config import LOSSES


class GlobalLossStep(NamedTuple):
    loss: Tensor  # scalar to call backward() on
    terms: dict[str, Tensor]  # detached scalars to log
    state: dict[str, Tensor]  # the new per-sample rows of this batch, keyed by the module's buffer names


def _check_pair(image_features: Tensor, text_features: Tensor) -> None:
    if image_features.ndim != 2 or text_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError("image_features and text_features must both be (B, D) with the same shape, got "
                         f"{tuple(image_features.shape)} and {tuple(text_features.shape)}")
    if image_features.shape[0] < 2:
        raise ValueError(f"a contrastive batch needs at least 2 pairs, got B={image_features.shape[0]}")


def _check_rows(name: str, rows: Tensor, batch: int) -> None:
    if rows.shape != (batch,):
        raise ValueError(f"{name} must be ({batch},), one value per pair, got {tuple(rows.shape)}")


# -- CLIP ------------------------------------------------------------------------------------------------------------

def clip_loss(image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> dict[str, Tensor]:
    """CLIP's symmetric cross-entropy over the (B, B) logits `logit_scale * image @ text.T`, averaged over both
    directions. `logit_scale` is 1 / temperature (a scalar tensor to learn it)."""
    _check_pair(image_features, text_features)
    logits = logit_scale * image_features @ text_features.T
    labels = torch.arange(logits.shape[0], device=logits.device)
    image_to_text = F.cross_entropy(logits, labels)
    text_to_image = F.cross_entropy(logits.T, labels)
    loss = (image_to_text + text_to_image) / 2
    return {"loss": loss, "image_to_text": image_to_text.detach(), "text_to_image": text_to_image.detach()}


class CLIPLoss(nn.Module):
    """`clip_loss` with a default temperature; pass the model's `logit_scale` to learn it instead."""

    def __init__(self, temperature: float = 0.07) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, image_features: Tensor, text_features: Tensor, index: Tensor | None = None,
                logit_scale: Tensor | float | None = None) -> dict[str, Tensor]:
        scale = 1.0 / self.temperature if logit_scale is None else logit_scale
        out = clip_loss(image_features, text_features, scale)
        out["temperature"] = (1.0 / torch.as_tensor(scale, dtype=image_features.dtype)).detach().reshape(())
        return out

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


# -- shared pieces of the global losses ------------------------------------------------------------------------------

def _gaps(image_features: Tensor, text_features: Tensor) -> tuple[Tensor, Tensor]:
    """(B, B) gaps d: row i of the first holds image i against every text, of the second text i against every
    image, each minus the similarity of pair i."""
    sim = image_features @ text_features.T
    diag = sim.diagonal()
    return sim - diag[:, None], sim.T - diag[:, None]


def _update_log_u(scaled: Tensor, log_u: Tensor, gamma: float) -> Tensor:
    """log of `(1 - gamma) u + gamma g` (or of g where u is unseen), from gaps already divided by tau and
    masked to -inf on the diagonal. No gradient flows through the state."""
    b = scaled.shape[0]
    log_g = torch.logsumexp(scaled, dim=1) - math.log(b - 1)
    if gamma >= 1.0:
        return log_g
    if gamma == 0.0:  # u stays as it is: the state is frozen (gradcheck, or evaluating a fixed estimate)
        mixed = log_u
    else:
        mixed = torch.logaddexp(log_u + math.log1p(-gamma), log_g + math.log(gamma))
    return torch.where(torch.isneginf(log_u), log_g, mixed)


def _surrogate(gaps: Tensor, tau: Tensor, log_u: Tensor, eye: Tensor) -> Tensor:
    """Per anchor `tau / (B-1) * sum_{j != i} exp(d_ij / tau - log u_i)`, (B,); see the module docstring."""
    z = (gaps / tau[:, None] - log_u[:, None]).masked_fill(eye, float("-inf"))
    return tau * torch.exp(z).sum(dim=1) / (gaps.shape[0] - 1)


def _prepare(image_features: Tensor, text_features: Tensor, state: dict[str, Tensor]) -> Tensor:
    _check_pair(image_features, text_features)
    b = image_features.shape[0]
    for name, rows in state.items():
        _check_rows(name, rows, b)
    return torch.eye(b, dtype=torch.bool, device=image_features.device)


# -- SogCLR ----------------------------------------------------------------------------------------------------------

def sogclr_loss(image_features: Tensor, text_features: Tensor, log_u_image: Tensor, log_u_text: Tensor, *,
                gamma: float = 0.8, temperature: float = 0.01) -> GlobalLossStep:
    """SogCLR for image-text pairs (Yuan et al. 2022): the image-anchor and text-anchor terms, summed as in the
    reference code. `log_u_*` are the (B,) moving-average rows of this batch before the step (-inf: unseen);
    the new rows come back in `state`. `gamma=0` keeps every seen u as it is."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma lies in [0, 1], got {gamma}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    eye = _prepare(image_features, text_features, {"log_u_image": log_u_image, "log_u_text": log_u_text})
    tau = torch.full((image_features.shape[0],), temperature, dtype=image_features.dtype,
                     device=image_features.device)
    gaps_i, gaps_t = _gaps(image_features, text_features)
    with torch.no_grad():
        new_i = _update_log_u((gaps_i / temperature).masked_fill(eye, float("-inf")), log_u_image, gamma)
        new_t = _update_log_u((gaps_t / temperature).masked_fill(eye, float("-inf")), log_u_text, gamma)
    loss = _surrogate(gaps_i, tau, new_i, eye).mean() + _surrogate(gaps_t, tau, new_t, eye).mean()
    gcl_image, gcl_text = (temperature * new_i).mean(), (temperature * new_t).mean()
    terms = {"objective": gcl_image + gcl_text, "gcl_image": gcl_image, "gcl_text": gcl_text}
    return GlobalLossStep(loss, terms, {"log_u_image": new_i, "log_u_text": new_t})


class _GlobalLoss(nn.Module):
    """Per-sample state in buffers of length `num_samples`, indexed by each pair's dataset index."""

    _state_names: tuple[str, ...] = ()

    def __init__(self, num_samples: int) -> None:
        super().__init__()
        if num_samples < 2:
            raise ValueError(f"num_samples is the dataset size and must be >= 2, got {num_samples}")
        self.num_samples = int(num_samples)

    def _rows(self, index: Tensor, features: Tensor) -> dict[str, Tensor]:
        if index is None or index.ndim != 1 or index.shape[0] != features.shape[0]:
            shape = None if index is None else tuple(index.shape)
            raise ValueError(f"index must be ({features.shape[0]},), the dataset index of each pair, got {shape}")
        if index.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"index must hold integers, got {index.dtype}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.num_samples):
            raise ValueError(f"index values must lie in [0, {self.num_samples}) (num_samples), got "
                             f"[{int(index.min())}, {int(index.max())}]")
        first = getattr(self, self._state_names[0])
        if first.device != features.device:
            raise ValueError(f"the loss state is on {first.device} but the features are on {features.device}; "
                             "move the loss with .to(device)")
        return {n: getattr(self, n)[index].to(features.dtype) for n in self._state_names}

    @torch.no_grad()
    def _store(self, index: Tensor, state: dict[str, Tensor]) -> None:
        if self.training:
            for name, rows in state.items():
                buf = getattr(self, name)
                buf[index] = rows.to(buf.dtype)

    def _initial(self, name: str) -> Tensor:
        """The value of buffer `name` before any sample has been seen."""
        raise NotImplementedError


class SogCLRLoss(_GlobalLoss):
    """`sogclr_loss` with the moving averages `log_u_image`, `log_u_text` (num_samples,) as buffers."""

    _state_names = ("log_u_image", "log_u_text")

    def __init__(self, num_samples: int, gamma: float = 0.8, temperature: float = 0.01) -> None:
        super().__init__(num_samples)
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma lies in (0, 1], got {gamma}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.gamma, self.temperature = float(gamma), float(temperature)
        for name in self._state_names:
            self.register_buffer(name, self._initial(name))

    def _initial(self, name: str) -> Tensor:
        return torch.full((self.num_samples,), float("-inf"))

    @property
    def u_image(self) -> Tensor:
        return self.log_u_image.exp()

    @property
    def u_text(self) -> Tensor:
        return self.log_u_text.exp()

    def forward(self, image_features: Tensor, text_features: Tensor, index: Tensor,
                logit_scale: Tensor | float | None = None) -> dict[str, Tensor]:
        rows = self._rows(index, image_features)
        step = sogclr_loss(image_features, text_features, rows["log_u_image"], rows["log_u_text"],
                           gamma=self.gamma, temperature=self.temperature)
        self._store(index, step.state)
        return {"loss": step.loss, **step.terms}

    def extra_repr(self) -> str:
        return f"num_samples={self.num_samples}, gamma={self.gamma}, temperature={self.temperature}"


# -- iSogCLR ---------------------------------------------------------------------------------------------------------

def _tau_gradient(scaled: Tensor, log_u: Tensor, rho: float, eye: Tensor) -> Tensor:
    """d/dtau of `tau log E exp(d / tau) + rho tau`, estimated with u: `log u + rho - E_p[d / tau]`, (B,)."""
    weights = torch.exp((scaled - log_u[:, None]).masked_fill(eye, float("-inf")))
    expected = (weights * scaled.masked_fill(eye, 0.0)).sum(dim=1) / (scaled.shape[0] - 1)
    return log_u + rho - expected


def isogclr_loss(image_features: Tensor, text_features: Tensor, log_u_image: Tensor, log_u_text: Tensor,
                 tau_image: Tensor, tau_text: Tensor, tau_grad_image: Tensor, tau_grad_text: Tensor, *,
                 gamma: float = 0.8, rho_image: float = 8.0, rho_text: float = 8.0, eta: float = 1e-3,
                 beta: float = 0.5, tau_min: float = 0.005, tau_max: float = 0.05,
                 grad_clip: float = 5.0) -> GlobalLossStep:
    """iSogCLR with per-sample temperatures, seed 002's "iSogCLR_New" (Qiu et al. 2023, robust global
    contrastive loss): per anchor `tau_i log E exp(d_ij / tau_i) + rho tau_i`.

    The features get SogCLR's gradient at each anchor's own temperature; the temperatures take a step of their
    own: `m_i <- (1 - beta) m_i + beta clip(dF/dtau_i, +-grad_clip)`, `tau_i <- clamp(tau_i - eta m_i)`.
    All (B,) state rows are this batch's values before the step; `state` returns the new ones.
    """
    if not 0.0 <= gamma <= 1.0 or not 0.0 <= beta <= 1.0:
        raise ValueError(f"gamma and beta lie in [0, 1], got gamma={gamma}, beta={beta}")
    if not 0.0 < tau_min <= tau_max:
        raise ValueError(f"need 0 < tau_min <= tau_max, got {tau_min}, {tau_max}")
    eye = _prepare(image_features, text_features, {
        "log_u_image": log_u_image, "log_u_text": log_u_text, "tau_image": tau_image, "tau_text": tau_text,
        "tau_grad_image": tau_grad_image, "tau_grad_text": tau_grad_text})
    if bool((tau_image <= 0).any()) or bool((tau_text <= 0).any()):
        raise ValueError("per-sample temperatures must be > 0")
    gaps_i, gaps_t = _gaps(image_features, text_features)
    with torch.no_grad():
        scaled_i = (gaps_i / tau_image[:, None]).masked_fill(eye, float("-inf"))
        scaled_t = (gaps_t / tau_text[:, None]).masked_fill(eye, float("-inf"))
        new_u_i = _update_log_u(scaled_i, log_u_image, gamma)
        new_u_t = _update_log_u(scaled_t, log_u_text, gamma)
        grad_i = _tau_gradient(scaled_i, new_u_i, rho_image, eye).clamp(-grad_clip, grad_clip)
        grad_t = _tau_gradient(scaled_t, new_u_t, rho_text, eye).clamp(-grad_clip, grad_clip)
        new_m_i = (1.0 - beta) * tau_grad_image + beta * grad_i
        new_m_t = (1.0 - beta) * tau_grad_text + beta * grad_t
        new_tau_i = (tau_image - eta * new_m_i).clamp(tau_min, tau_max)
        new_tau_t = (tau_text - eta * new_m_t).clamp(tau_min, tau_max)
    loss = _surrogate(gaps_i, tau_image, new_u_i, eye).mean() + _surrogate(gaps_t, tau_text, new_u_t, eye).mean()
    gcl_image, gcl_text = (tau_image * new_u_i).mean(), (tau_text * new_u_t).mean()
    terms = {
        "objective": gcl_image + gcl_text + (rho_image * tau_image + rho_text * tau_text).mean(),
        "gcl_image": gcl_image, "gcl_text": gcl_text,
        "tau_image": tau_image.mean(), "tau_text": tau_text.mean(),
    }
    state = {"log_u_image": new_u_i, "log_u_text": new_u_t, "tau_image": new_tau_i, "tau_text": new_tau_t,
             "tau_grad_image": new_m_i, "tau_grad_text": new_m_t}
    return GlobalLossStep(loss, {k: v.detach() for k, v in terms.items()}, state)


class ISogCLRLoss(_GlobalLoss):
    """`isogclr_loss` with its per-sample state as buffers: moving averages `log_u_*`, temperatures `tau_*` and
    their gradient averages `tau_grad_*`, each (num_samples,). The temperatures follow their own update rule
    (not the optimizer's), which is why they are buffers rather than parameters."""

    _state_names = ("log_u_image", "log_u_text", "tau_image", "tau_text", "tau_grad_image", "tau_grad_text")

    def __init__(self, num_samples: int, gamma: float = 0.8, tau_init: float = 0.01, rho_image: float = 8.0,
                 rho_text: float = 8.0, eta: float = 1e-3, beta: float = 0.5, tau_min: float = 0.005,
                 tau_max: float = 0.05, grad_clip: float = 5.0) -> None:
        super().__init__(num_samples)
        if not 0.0 < gamma <= 1.0 or not 0.0 < beta <= 1.0:
            raise ValueError(f"gamma and beta lie in (0, 1], got gamma={gamma}, beta={beta}")
        if not tau_min <= tau_init <= tau_max:
            raise ValueError(f"tau_init ({tau_init}) must lie in [tau_min, tau_max] = [{tau_min}, {tau_max}]")
        self.gamma, self.tau_init, self.rho_image, self.rho_text = float(gamma), float(tau_init), rho_image, rho_text
        self.eta, self.beta, self.tau_min, self.tau_max, self.grad_clip = eta, beta, tau_min, tau_max, grad_clip
        for name in self._state_names:
            self.register_buffer(name, self._initial(name))

    def _initial(self, name: str) -> Tensor:
        n = self.num_samples
        if name.startswith("log_u"):
            return torch.full((n,), float("-inf"))
        if name.startswith("tau_grad"):
            return torch.zeros(n)
        return torch.full((n,), self.tau_init)

    def forward(self, image_features: Tensor, text_features: Tensor, index: Tensor,
                logit_scale: Tensor | float | None = None) -> dict[str, Tensor]:
        rows = self._rows(index, image_features)
        step = isogclr_loss(image_features, text_features, **rows, gamma=self.gamma, rho_image=self.rho_image,
                            rho_text=self.rho_text, eta=self.eta, beta=self.beta, tau_min=self.tau_min,
                            tau_max=self.tau_max, grad_clip=self.grad_clip)
        self._store(index, step.state)
        return {"loss": step.loss, **step.terms}

    def extra_repr(self) -> str:
        return (f"num_samples={self.num_samples}, gamma={self.gamma}, tau_init={self.tau_init}, "
                f"rho=({self.rho_image}, {self.rho_text}), eta={self.eta}, beta={self.beta}, "
                f"tau in [{self.tau_min}, {self.tau_max}]")


def build_loss(name: str, num_samples: int, *, temp: float, sogclr_gamma: float, tau_init: float, rho_I: float,
               rho_T: float, eta_init: float, beta_u: float, tau_min: float, tau_max: float,
               tau_grad_clip: float) -> nn.Module:
    """The loss module a config names; arguments are the config fields of the same name."""
    if name == "clip":
        return CLIPLoss(temperature=temp)
    if name == "sogclr":
        return SogCLRLoss(num_samples, gamma=sogclr_gamma, temperature=temp)
    if name == "isogclr":
        return ISogCLRLoss(num_samples, gamma=sogclr_gamma, tau_init=tau_init, rho_image=rho_I, rho_text=rho_T,
                           eta=eta_init, beta=beta_u, tau_min=tau_min, tau_max=tau_max, grad_clip=tau_grad_clip)
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")
