"""Tiny models shared by the generator tests (built once per session: they are frozen, nothing mutates them)."""

from __future__ import annotations

import pytest

from generator.config import GenerateConfig


def tiny_config(**overrides) -> GenerateConfig:
    """A fast tiny config: 64x64, 8 cutouts, few steps."""
    settings = {"prompts": ("a coral reef:1",), "preset": "tiny", "size": (64, 64), "steps": 4, "cutn": 8,
                "device": "cpu", "seed": 0}
    settings.update(overrides)
    return GenerateConfig(**settings)


@pytest.fixture(scope="session")
def tiny_models():
    from generator.pipeline import load_models

    return load_models(tiny_config())
