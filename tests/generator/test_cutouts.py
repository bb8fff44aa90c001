"""Cutouts: shapes per mode, augmentations by name, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from generator.config import AUGMENTATIONS, CutoutMode
from generator.cutouts import Cutouts, _augmentations
from generator.errors import GeneratorError


@pytest.mark.parametrize("mode", list(CutoutMode))
@pytest.mark.parametrize("augments", [(), ("flip", "affine", "perspective", "jitter")])
def test_shapes_and_gradient(mode, augments):
    image = torch.rand(1, 3, 48, 64, requires_grad=True)
    cuts = Cutouts(32, cutn=6, cut_pow=1.5, mode=mode, augments=augments)(image)
    assert cuts.shape == (6, 3, 32, 32) and torch.isfinite(cuts).all()
    cuts.sum().backward()
    assert image.grad.abs().sum() > 0


def test_every_augmentation_builds_and_runs():
    assert tuple(_augmentations()) == AUGMENTATIONS  # every allowed name has a module, and no more
    torch.manual_seed(0)
    cuts = Cutouts(16, cutn=2, augments=AUGMENTATIONS, noise_fac=0)(torch.rand(1, 3, 40, 40))
    assert cuts.shape == (2, 3, 16, 16)


def test_image_smaller_than_the_perceptor_is_upsampled():
    assert Cutouts(224, cutn=2, augments=())(torch.rand(1, 3, 64, 64)).shape == (2, 3, 224, 224)


def test_same_seed_same_cutouts():
    c = Cutouts(16, cutn=4)
    image = torch.rand(1, 3, 32, 32)
    torch.manual_seed(3)
    a = c(image)
    torch.manual_seed(3)
    assert torch.equal(a, c(image))


def test_errors():
    with pytest.raises(GeneratorError, match="unknown cutout_mode 'squish'; known: classic, pooled"):
        Cutouts(16, 2, mode="squish")
    with pytest.raises(GeneratorError, match="unknown augmentation.*'blur'"):
        Cutouts(16, 2, augments=("blur",))
    with pytest.raises(ValueError, match=r"one RGB image \(1, 3, H, W\), got \(2, 3, 8, 8\)"):
        Cutouts(4, 2)(torch.rand(2, 3, 8, 8))
