"""The memory estimate: counted on the meta device, growing with the size and cutn, refusing what cannot fit with the
largest size that would."""

from __future__ import annotations

import pytest
import torch

from generator.config import GenerateConfig
from generator.errors import GeneratorError
from generator.memory import GB, RUNTIME_BYTES, check_memory, estimate, largest_size, machine_memory

CPU = torch.device("cpu")


def tiny(size: tuple[int, int] = (64, 64), cutn: int = 8, **kw: object) -> GenerateConfig:
    return GenerateConfig(prompts=("a reef",), preset="tiny", size=size, cutn=cutn, device="cpu", **kw)


def test_the_estimate_grows_with_the_pixels_and_the_cutouts() -> None:
    small, large = estimate(tiny((64, 64))), estimate(tiny((128, 128)))
    assert small is not None and large is not None
    assert small.weights == large.weights > 0 and small.runtime == RUNTIME_BYTES
    assert 3.5 < large.decoder / small.decoder < 5  # four times the pixels
    assert estimate(tiny(cutn=32)).perceptors == pytest.approx(4 * small.perceptors, rel=0.05)


def test_the_real_architectures_are_counted_without_building_them() -> None:
    """VQGAN f16 16384 + ViT-B/32 at 256x256, cutn 8: bench/generator.py measured a 3530 MB peak on the CPU."""
    found = estimate(GenerateConfig(prompts=("x",), size=(256, 256), cutn=8, perceptors=("ViT-B-32:random",)))
    assert found is not None and 0.9 < found.total / (3530 * 2**20) < 1.1


def test_a_size_beyond_the_budget_is_refused_with_the_largest_that_fits() -> None:
    budget = estimate(tiny((256, 128))).total  # type: ignore[union-attr]
    with pytest.raises(GeneratorError) as info:
        check_memory(tiny((1024, 512)), CPU, budget=budget)
    message = str(info.value)
    assert "size 1024x512 needs about" in message and f"is {budget / GB:.1f} GB in all" in message
    fit = largest_size(tiny((1024, 512)), budget)
    assert fit == (256, 128) and "the largest size of this shape that fits is 256x128" in message
    assert estimate(tiny((264, 128))).total > budget  # type: ignore[union-attr]  # one cell more does not fit
    assert check_memory(tiny((256, 128)), CPU, budget=budget) is not None


def test_when_not_even_one_cell_fits_it_says_what_else_to_lower() -> None:
    with pytest.raises(GeneratorError, match=r"not even the smallest size fits: lower --cutn \(8\)"):
        check_memory(tiny(), CPU, budget=RUNTIME_BYTES)


def test_a_bare_checkpoint_path_is_not_estimated(tmp_path) -> None:
    assert estimate(tiny(vqgan=str(tmp_path / "last.ckpt"))) is None
    assert check_memory(tiny(vqgan=str(tmp_path / "last.ckpt")), CPU, budget=1) is None


def test_the_machine_has_memory() -> None:
    assert (machine_memory() or 0) > GB
