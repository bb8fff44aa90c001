"""Shared by the CUDA tests: the device they target, the skip when there is none, tiny configs and data.

Every test here is marked `gpu` (pyproject's addopts deselect it; run `pytest -m gpu tests/gpu`) and skips, saying
why, where torch sees no CUDA device. `DSTRTD_GPU_TESTS_DEVICE=cpu` runs the same tests on the CPU to check their
logic on a machine without a GPU: the CUDA-only assertions (NHWC weights, half precision, GradScaler) are then
skipped or relaxed, so such a run proves the plumbing, never the CUDA paths.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

DEVICE = os.environ.get("DSTRTD_GPU_TESTS_DEVICE", "cuda")
ON_CUDA = DEVICE.startswith("cuda")

# One mark for every module here: `pytestmark = GPU` (gpu marker + the skip without a CUDA device).
GPU = [
    pytest.mark.gpu,
    pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(),
                       reason="needs a CUDA GPU: torch.cuda.is_available() is False "
                              f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})"),
]
cuda_only = pytest.mark.skipif(not ON_CUDA, reason="checks a CUDA-only path (DSTRTD_GPU_TESTS_DEVICE=cpu)")


def half_dtype() -> torch.dtype:
    """What precision "auto" / "amp" must pick on this GPU: bf16 where it is native (Ampere and later)."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


@pytest.fixture(scope="session")
def device() -> torch.device:
    return torch.device(DEVICE)


def tiny_generate_config(**overrides):
    """The generator tests' tiny config (tests/generator/conftest.py) on the device under test."""
    from generator.config import GenerateConfig

    settings = {"prompts": ("a coral reef:1",), "preset": "tiny", "size": (64, 64), "steps": 4, "cutn": 8,
                "device": DEVICE, "seed": 0}
    settings.update(overrides)
    return GenerateConfig(**settings)


@pytest.fixture(scope="session")
def tiny_models():
    """The tiny VQGAN + CLIP on the device under test, eager (built once: they are frozen)."""
    from generator.pipeline import load_models

    return load_models(tiny_generate_config())


@pytest.fixture(scope="session")
def cpu_tiny_models():
    from generator.pipeline import load_models

    return load_models(tiny_generate_config(device="cpu"))


# --- data for the training tests ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 captioned shapes + manifest.csv (image, caption, label), as in the contrastive tests."""
    from training.contrastive.synthetic import write_shape_pairs

    return write_shape_pairs(tmp_path_factory.mktemp("pairs"))


@pytest.fixture(scope="session")
def ratings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.scorer.synthetic import write_synthetic_ratings

    return write_synthetic_ratings(tmp_path_factory.mktemp("rated"), n=24, size=32, seed=1)
