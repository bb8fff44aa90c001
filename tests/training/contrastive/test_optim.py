"""LAMB against its formula, optimizer and parameter-group building, and the learning-rate schedules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from training.contrastive.errors import ContrastiveError
from training.contrastive.optim import LAMB, build_optimizer, parameter_groups
from training.contrastive.schedules import Schedule, schedule_for, set_lr


def test_lamb_first_step_matches_the_formula() -> None:
    w = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([0.5, -1.0], dtype=torch.float64)
    w.grad = g.clone()
    lr, wd, eps = 0.1, 0.01, 1e-6
    LAMB([w], lr=lr, weight_decay=wd, eps=eps).step()
    # step 1 with bias correction: m_hat = g, v_hat = g^2, so the Adam part is g / (|g| + eps)
    adam = g / (g.abs() + eps)
    w0 = torch.tensor([3.0, 4.0], dtype=torch.float64)
    update = adam + wd * w0
    trust = w0.norm() / update.norm()
    torch.testing.assert_close(w.detach(), w0 - lr * trust * update)


def test_lamb_without_weight_decay_takes_a_plain_adam_step_unless_always_adapt() -> None:
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    w.grad = torch.tensor([1.0, 1.0])
    LAMB([w], lr=0.1, weight_decay=0.0).step()
    torch.testing.assert_close(w.detach(), torch.tensor([2.9, 3.9]), atol=1e-5, rtol=0)
    v = torch.tensor([3.0, 4.0], requires_grad=True)
    v.grad = torch.tensor([1.0, 1.0])
    LAMB([v], lr=0.1, weight_decay=0.0, always_adapt=True).step()
    # trust = ||w|| / ||update|| = 5 / sqrt(2)
    torch.testing.assert_close(v.detach(), torch.tensor([3.0, 4.0]) - 0.1 * 5 / math.sqrt(2), atol=1e-5, rtol=0)


def test_lamb_minimises_a_quadratic_and_its_state_round_trips() -> None:
    torch.manual_seed(0)
    target = torch.randn(5, 3)
    w = nn.Parameter(torch.zeros(5, 3) + 0.1)
    opt = LAMB([w], lr=0.05, weight_decay=0.0, always_adapt=True)
    for _ in range(300):
        opt.zero_grad()
        ((w - target) ** 2).sum().backward()
        opt.step()
    assert ((w - target) ** 2).sum().item() < 1e-2
    again = LAMB([nn.Parameter(w.detach().clone())], lr=0.05)
    again.load_state_dict(opt.state_dict())
    assert float(again.state[again.param_groups[0]["params"][0]]["step"]) == 300


def test_parameter_groups_leave_gains_biases_and_scales_undecayed() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    model.logit_scale = nn.Parameter(torch.tensor(1.0))
    groups = parameter_groups(model, 0.1)
    decayed, plain = groups
    assert decayed["weight_decay"] == 0.1 and [p.shape for p in decayed["params"]] == [torch.Size([3, 4])]
    assert plain["weight_decay"] == 0.0 and len(plain["params"]) == 4


@pytest.mark.parametrize("name,cls", [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam),
                                      ("radam", torch.optim.RAdam), ("lamb", LAMB), ("sgd", torch.optim.SGD),
                                      ("rmsprop", torch.optim.RMSprop)])
def test_build_optimizer_by_name(name: str, cls: type) -> None:
    model = nn.Linear(3, 2)
    opt = build_optimizer(name, parameter_groups(model, 0.01), lr=1e-3, weight_decay=0.01)
    assert isinstance(opt, cls)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()


def test_build_optimizer_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ContrastiveError, match="known: adamw, adam, radam, lamb, sgd, rmsprop"):
        build_optimizer("novograd", parameter_groups(nn.Linear(2, 2), 0.0), lr=1e-3, weight_decay=0.0)


def test_warmup_then_cosine_then_cooldown() -> None:
    s = Schedule(lr=1.0, total_steps=20, warmup_steps=4, cooldown_steps=6, warmup_lr=0.2, min_lr=0.1)
    assert [s(i) for i in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert s(4) == pytest.approx(1.0)
    assert s(4 + 5) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the 10 decay steps
    assert [s(i) for i in range(14, 20)] == pytest.approx([0.1] * 6)
    assert all(s(i) >= s(i + 1) for i in range(4, 19))


def test_tanh_schedule_starts_at_lr_and_ends_near_min_lr() -> None:
    s = Schedule(lr=1.0, total_steps=100, min_lr=0.0, kind="tanh")
    assert s(0) == pytest.approx(0.5 * (1 - math.tanh(-7.0)))
    assert s(99) < 0.01
    assert all(s(i) >= s(i + 1) for i in range(99))


def test_constant_schedule_and_set_lr() -> None:
    s = schedule_for(kind="constant", lr=0.3, warmup_lr=0.0, min_lr=0.0, epochs=3, warmup_epochs=1,
                     cooldown_epochs=0, steps_per_epoch=2)
    assert [s(i) for i in range(6)] == pytest.approx([0.0, 0.15, 0.3, 0.3, 0.3, 0.3])
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=1.0)
    set_lr(opt, s(1))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="unknown schedule"):
        Schedule(lr=1.0, total_steps=2, kind="step")
