"""bench/anchor_loop.py: nerdyrodent's step rebuilt on our modules runs, gives a finite loss and moves z."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def anchor_loop():
    spec = importlib.util.spec_from_file_location("anchor_loop", ROOT / "bench" / "anchor_loop.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["anchor_loop"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("anchor_loop", None)


@pytest.mark.parametrize("dtype", [None, torch.float16], ids=["fp32-as-on-cpu", "fp16-clip-as-on-cuda"])
def test_one_anchor_step_gives_a_finite_loss_and_a_gradient_on_z(anchor_loop, dtype):
    models = anchor_loop.load_anchor_models("tiny", "tiny", "cpu", dtype=dtype)
    assert not any(p.requires_grad for p in models.vqgan.parameters())
    assert not any(p.requires_grad for p in models.clip.parameters())
    loop = anchor_loop.AnchorLoop(models, (64, 64), cutn=4, save_every=1)  # save_every=1: the checkin runs too
    z_before = loop.z.detach().clone()
    assert not loop.z.is_contiguous()  # the permuted view of the source, kept as is
    loss = loop.step()
    assert loss.shape == () and math.isfinite(loss.item())
    assert loop.z.grad is not None and loop.z.grad.shape == z_before.shape
    assert torch.isfinite(loop.z.grad).all() and loop.z.grad.abs().sum() > 0
    assert not torch.equal(loop.z.detach(), z_before)  # Adam moved z ...
    assert (loop.z >= loop.z_min).all() and (loop.z <= loop.z_max).all()  # ... and the clamp kept it in range
    if dtype is torch.float16:
        assert models.clip.visual.conv1.weight.dtype == torch.float16


def test_cutouts_pool_once_per_cutout_with_the_default_augments(anchor_loop):
    cutouts = anchor_loop.AnchorCutouts(32, 5)
    names = [type(m).__name__ for m in cutouts.augs]
    assert names == ["RandomAffine", "RandomPerspective", "ColorJitter", "RandomErasing"]
    out = cutouts(torch.rand(1, 3, 64, 64, requires_grad=True))
    assert out.shape == (5, 3, 32, 32)
