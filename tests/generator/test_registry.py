"""The JSON registries: VQGAN configs, presets, weights entries."""

from __future__ import annotations

import pytest
import torch

from generator import registry
from generator.common.errors import UnknownEntry
from generator.perceptors import split_weight
from generator.vqgan import build_vqgan, get_config, list_configs

REAL = ["vqgan_imagenet_f16_1024", "vqgan_imagenet_f16_16384", "wikiart_16384", "vqgan_gumbel_f8_8192"]


def test_registry_lists_the_real_configs_and_tiny():
    assert set(REAL + ["tiny"]) <= set(list_configs())


def test_unknown_config_names_the_known_ones():
    with pytest.raises(UnknownEntry, match="unknown VQGAN config 'nope'; known: .*vqgan_imagenet_f16_16384"):
        get_config("nope")
    with pytest.raises(UnknownEntry, match="unknown preset"):
        registry.entry("presets", "../vqgan/tiny")


# Upstream numbers: encoder + decoder + quantizer + 1x1 convs of taming's VQModel/GumbelVQ (no loss weights).
@pytest.mark.parametrize(("name", "factor", "params_m"), [
    ("vqgan_imagenet_f16_1024", 16, 72.1), ("vqgan_imagenet_f16_16384", 16, 76.1), ("wikiart_16384", 16, 76.1),
    ("vqgan_gumbel_f8_8192", 8, 69.0)])
def test_real_configs_build_on_meta_with_plausible_size(name, factor, params_m):
    config = get_config(name)
    model = build_vqgan(config, "meta")
    n = sum(p.numel() for p in model.parameters())
    assert config.factor == factor
    assert n / 1e6 == pytest.approx(params_m, abs=0.1)
    assert model.codebook.shape == (config.n_embed, config.embed_dim)
    assert config.weights in registry.names("weights")


def test_every_preset_names_known_models():
    for name in registry.names("presets"):
        preset = registry.entry("presets", name)
        assert preset["vqgan"] in list_configs(), name
        for spec in preset["perceptors"]:
            model, weight = split_weight(spec)
            assert weight > 0 and (model == "tiny" or ":" in model), spec


def test_weights_entries_are_complete():
    from generator import weights

    for entry in weights.list_entries():
        ckpt = entry.file("checkpoint")
        assert ckpt.urls and ckpt.filename and entry.licence, entry.name
        if entry.kind == "clip":
            # OpenAI publishes the sha256 as the folder of each URL
            assert ckpt.sha256 and ckpt.sha256 in ckpt.urls[0] and len(ckpt.sha256) == 64


def test_tiny_builds_the_same_everywhere():
    a, b = build_vqgan("tiny"), build_vqgan("tiny")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
