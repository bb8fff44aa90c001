"""CLIP, SogCLR and iSogCLR: hand-computed values, the moving-average formula, float64 gradcheck, exact gradients,
state in state_dict / .to(), and the checks on bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from training.contrastive.losses import (
    CLIPLoss,
    ISogCLRLoss,
    SogCLRLoss,
    build_loss,
    clip_loss,
    isogclr_loss,
    sogclr_loss,
)


def features(b: int = 5, d: int = 4, seed: int = 0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(b, d, generator=g, dtype=dtype), dim=1)
    t = F.normalize(torch.randn(b, d, generator=g, dtype=dtype), dim=1)
    return x, t


def reference_g(x: torch.Tensor, t: torch.Tensor, tau: list[float]) -> tuple[list[float], list[float]]:
    """Loops over pairs: g_i = 1/(B-1) sum_{j != i} exp((s_ij - s_ii) / tau_i), image anchors then text anchors."""
    s = (x @ t.T).tolist()
    b = len(s)
    g_img = [sum(math.exp((s[i][j] - s[i][i]) / tau[i]) for j in range(b) if j != i) / (b - 1) for i in range(b)]
    g_txt = [sum(math.exp((s[j][i] - s[i][i]) / tau[i]) for j in range(b) if j != i) / (b - 1) for i in range(b)]
    return g_img, g_txt


# -- CLIP ------------------------------------------------------------------------------------------------------------

def test_clip_hand_computed_value() -> None:
    # orthogonal pairs at scale 1: logits are the identity, each row's loss is log(1 + e^-1)
    x = torch.eye(2)
    out = clip_loss(x, x.clone(), 1.0)
    assert out["loss"].item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    assert out["image_to_text"].item() == pytest.approx(out["text_to_image"].item())


def test_clip_matches_cross_entropy_by_hand() -> None:
    x, t = features(3)
    logits = (x @ t.T * 10.0).tolist()
    ce_rows = [-logits[i][i] + math.log(sum(math.exp(v) for v in logits[i])) for i in range(3)]
    ce_cols = [-logits[i][i] + math.log(sum(math.exp(logits[j][i]) for j in range(3))) for i in range(3)]
    expected = (sum(ce_rows) / 3 + sum(ce_cols) / 3) / 2
    assert clip_loss(x, t, 10.0)["loss"].item() == pytest.approx(expected, rel=1e-12)


def test_clip_gradcheck_float64() -> None:
    x, t = features(4)
    scale = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, s: clip_loss(a, b, s)["loss"],
                                    (x.requires_grad_(), t.requires_grad_(), scale))


def test_clip_module_uses_its_temperature_unless_given_a_scale() -> None:
    x, t = features(4)
    assert CLIPLoss(0.1)(x, t)["loss"].item() == pytest.approx(clip_loss(x, t, 10.0)["loss"].item())
    assert CLIPLoss(0.1)(x, t, logit_scale=2.0)["loss"].item() == pytest.approx(clip_loss(x, t, 2.0)["loss"].item())


# -- SogCLR ----------------------------------------------------------------------------------------------------------

def test_sogclr_first_visit_sets_u_to_g_then_follows_the_moving_average() -> None:
    x, t = features(5)
    tau, gamma = 0.2, 0.8
    loss = SogCLRLoss(num_samples=10, gamma=gamma, temperature=tau).double()
    index = torch.tensor([7, 1, 3, 0, 9])
    loss(x, t, index)
    g_img, g_txt = reference_g(x, t, [tau] * 5)
    assert loss.u_image[index].tolist() == pytest.approx(g_img, rel=1e-12)
    assert loss.u_text[index].tolist() == pytest.approx(g_txt, rel=1e-12)
    unseen = torch.tensor([2, 4, 5, 6, 8])
    assert torch.isneginf(loss.log_u_image[unseen]).all()

    x2, t2 = features(5, seed=1)
    loss(x2, t2, index)
    g2_img, g2_txt = reference_g(x2, t2, [tau] * 5)
    expected_img = [(1 - gamma) * u + gamma * g for u, g in zip(g_img, g2_img, strict=True)]
    expected_txt = [(1 - gamma) * u + gamma * g for u, g in zip(g_txt, g2_txt, strict=True)]
    assert loss.u_image[index].tolist() == pytest.approx(expected_img, rel=1e-12)
    assert loss.u_text[index].tolist() == pytest.approx(expected_txt, rel=1e-12)


def test_sogclr_hand_computed_value_and_objective() -> None:
    # B=2, tau=1: one negative per anchor, so u = g = exp(d) and each surrogate term is tau * exp(d - log u) = 1
    x = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
    t = torch.tensor([[0.8, 0.6], [0.0, 1.0]], dtype=torch.float64)
    unseen = torch.full((2,), float("-inf"), dtype=torch.float64)
    out = sogclr_loss(x, t, unseen, unseen, gamma=0.8, temperature=1.0)
    assert out.loss.item() == pytest.approx(2.0)
    # s = [[0.8, 0], [0.96, 0.8]]: image gaps d_01 = -0.8, d_10 = 0.16; text gaps d_01 = 0.96 - 0.8, d_10 = 0 - 0.8
    assert out.terms["gcl_image"].item() == pytest.approx((-0.8 + 0.16) / 2)
    assert out.terms["gcl_text"].item() == pytest.approx((0.16 - 0.8) / 2)
    assert out.state["log_u_image"].tolist() == pytest.approx([-0.8, 0.16])


def test_sogclr_gradient_is_the_exact_global_gradient_when_the_batch_is_the_dataset() -> None:
    x, t = features(6)
    x.requires_grad_()
    t.requires_grad_()
    tau = 0.1
    unseen = torch.full((6,), float("-inf"), dtype=torch.float64)
    got = torch.autograd.grad(sogclr_loss(x, t, unseen, unseen, gamma=1.0, temperature=tau).loss, (x, t))
    sim = x @ t.T
    eye = torch.eye(6, dtype=torch.bool)
    gi = ((sim - sim.diagonal()[:, None]) / tau).masked_fill(eye, float("-inf"))
    gt = ((sim.T - sim.diagonal()[:, None]) / tau).masked_fill(eye, float("-inf"))
    exact = tau * (torch.logsumexp(gi, 1) - math.log(5)).mean() + tau * (torch.logsumexp(gt, 1) - math.log(5)).mean()
    want = torch.autograd.grad(exact, (x, t))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_sogclr_gradcheck_float64_with_the_state_held() -> None:
    x, t = features(4)
    log_u_i, log_u_t = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    fn = lambda a, b: sogclr_loss(a, b, log_u_i, log_u_t, gamma=0.0, temperature=0.2).loss  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x.requires_grad_(), t.requires_grad_()))


def test_sogclr_small_temperature_float32_stays_finite() -> None:
    # tau=0.005 puts exp(d / tau) near e^400: the log-domain state must not overflow
    x, t = features(8, dtype=torch.float32)
    x = x.requires_grad_()
    loss = SogCLRLoss(8, temperature=0.005)
    for _ in range(3):
        out = loss(x, t, torch.arange(8))
        (gx,) = torch.autograd.grad(out["loss"], x)
        assert torch.isfinite(out["loss"]) and torch.isfinite(gx).all()
    assert torch.isfinite(loss.log_u_image).all()


def test_sogclr_degenerate_identical_features_give_no_nan() -> None:
    x = torch.ones(4, 3, dtype=torch.float64) / math.sqrt(3)
    x.requires_grad_()
    out = SogCLRLoss(4).double()(x, x, torch.arange(4))
    (g,) = torch.autograd.grad(out["loss"], x)
    assert torch.isfinite(out["loss"]) and torch.isfinite(g).all()


def test_sogclr_state_dict_round_trip_and_resume() -> None:
    x, t = features(5)
    a = SogCLRLoss(10, temperature=0.3).double()
    a(x, t, torch.tensor([0, 2, 4, 6, 8]))
    assert set(a.state_dict()) == {"log_u_image", "log_u_text"}
    b = SogCLRLoss(10, temperature=0.3).double()
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.log_u_image, a.log_u_image)
    x2, t2 = features(5, seed=3)
    idx = torch.tensor([0, 1, 2, 3, 4])
    assert a(x2, t2, idx)["loss"].item() == b(x2, t2, idx)["loss"].item()
    torch.testing.assert_close(a.log_u_text, b.log_u_text)


def test_sogclr_to_float64_moves_the_state() -> None:
    loss = SogCLRLoss(6)
    assert loss.log_u_image.dtype == torch.float32
    loss = loss.to(torch.float64)
    assert loss.log_u_image.dtype == torch.float64 and loss.log_u_text.dtype == torch.float64
    x, t = features(3)
    loss(x, t, torch.tensor([0, 1, 2]))
    assert torch.isfinite(loss.log_u_image[:3]).all()


def test_sogclr_eval_mode_leaves_the_state_alone() -> None:
    x, t = features(4)
    loss = SogCLRLoss(4).double().eval()
    loss(x, t, torch.arange(4))
    assert torch.isneginf(loss.log_u_image).all()


def test_sogclr_rejects_bad_input_with_shapes_in_the_message() -> None:
    loss = SogCLRLoss(4)
    x, t = features(3, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(2, 4\)"):
        loss(x, t[:2], torch.arange(3))
    with pytest.raises(ValueError, match=r"index must be \(3,\)"):
        loss(x, t, torch.arange(2))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        loss(x, t, torch.tensor([0, 1, 9]))
    with pytest.raises(ValueError, match="at least 2 pairs"):
        loss(x[:1], t[:1], torch.tensor([0]))
    with pytest.raises(ValueError, match="gamma"):
        SogCLRLoss(4, gamma=0.0)


# -- iSogCLR ---------------------------------------------------------------------------------------------------------

def test_isogclr_temperature_update_follows_the_formula() -> None:
    x, t = features(4)
    tau0, rho, eta, beta, clip = 0.25, 0.5, 0.01, 0.5, 5.0  # 0.25: exact in the float32 buffer it starts in
    loss = ISogCLRLoss(4, gamma=1.0, tau_init=tau0, rho_image=rho, rho_text=rho, eta=eta, beta=beta,
                       tau_min=0.01, tau_max=1.0, grad_clip=clip).double()
    loss(x, t, torch.arange(4))
    s = (x @ t.T).tolist()
    g_img, _ = reference_g(x, t, [tau0] * 4)
    for i in range(4):
        # dF/dtau = log u + rho - E_p[d / tau], p_j proportional to exp(d_ij / tau)
        gaps = [(s[i][j] - s[i][i]) / tau0 for j in range(4) if j != i]
        expected_gap = sum(math.exp(z) * z for z in gaps) / 3 / g_img[i]
        grad = max(-clip, min(clip, math.log(g_img[i]) + rho - expected_gap))
        assert loss.tau_grad_image[i].item() == pytest.approx(beta * grad, rel=1e-10)
        assert loss.tau_image[i].item() == pytest.approx(tau0 - eta * beta * grad, rel=1e-10)


def test_isogclr_temperatures_stay_in_bounds_and_per_sample() -> None:
    x, t = features(6, dtype=torch.float32)
    loss = ISogCLRLoss(20, tau_init=0.01, rho_image=8.0, rho_text=8.0, eta=1.0)
    loss(x, t, torch.arange(6) * 3)
    assert (loss.tau_image >= 0.005).all() and (loss.tau_image <= 0.05).all()
    assert (loss.tau_image[torch.arange(6) * 3] != 0.01).all()
    assert (loss.tau_image[1::3] == 0.01).all()


def test_isogclr_gradcheck_float64_with_the_state_held() -> None:
    x, t = features(4)
    rows = {"log_u_image": torch.randn(4, dtype=torch.float64), "log_u_text": torch.randn(4, dtype=torch.float64),
            "tau_image": torch.tensor([0.1, 0.2, 0.3, 0.15], dtype=torch.float64),
            "tau_text": torch.tensor([0.25, 0.1, 0.2, 0.3], dtype=torch.float64),
            "tau_grad_image": torch.zeros(4, dtype=torch.float64), "tau_grad_text": torch.zeros(4, dtype=torch.float64)}
    fn = lambda a, b: isogclr_loss(a, b, **rows, gamma=0.0).loss  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x.requires_grad_(), t.requires_grad_()))


def test_isogclr_state_dict_holds_every_per_sample_tensor_and_moves_with_to() -> None:
    loss = ISogCLRLoss(7)
    names = {"log_u_image", "log_u_text", "tau_image", "tau_text", "tau_grad_image", "tau_grad_text"}
    assert set(loss.state_dict()) == names
    assert all(v.shape == (7,) for v in loss.state_dict().values())
    loss = loss.to(torch.float64)
    assert all(v.dtype == torch.float64 for v in loss.state_dict().values())
    x, t = features(3)
    loss(x, t, torch.tensor([1, 3, 5]))
    fresh = ISogCLRLoss(7).double()
    fresh.load_state_dict(loss.state_dict())
    for name in names:
        torch.testing.assert_close(getattr(fresh, name), getattr(loss, name))


def test_isogclr_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="tau_init"):
        ISogCLRLoss(4, tau_init=0.5, tau_max=0.05)
    with pytest.raises(ValueError, match="num_samples"):
        ISogCLRLoss(1)


def test_build_loss_by_name() -> None:
    kw = dict(temp=0.05, sogclr_gamma=0.8, tau_init=0.01, rho_I=8.0, rho_T=8.0, eta_init=1e-3, beta_u=0.5,
              tau_min=0.005, tau_max=0.05, tau_grad_clip=5.0)
    assert isinstance(build_loss("clip", 10, **kw), CLIPLoss)
    assert isinstance(build_loss("sogclr", 10, **kw), SogCLRLoss)
    assert isinstance(build_loss("isogclr", 10, **kw), ISogCLRLoss)
    with pytest.raises(ValueError, match="known: clip, sogclr, isogclr"):
        build_loss("simclr", 10, **kw)
