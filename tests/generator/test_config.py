"""GenerateConfig: defaults, checks with clear messages, JSON round trip, presets."""

from __future__ import annotations

import dataclasses
import json

import pytest

from generator.common.errors import PromptError, UnknownEntry
from generator.config import GenerateConfig
from generator.errors import GeneratorError
from generator.pipeline import check


def test_defaults_follow_the_artist():
    c = GenerateConfig(prompts=("a coral reef",))
    assert c.size == (304, 304) and c.size[0] % 16 == 0 and 250 <= c.steps <= 500
    assert c.preset == "imagenet_16384"
    resolved = c.resolved()
    assert resolved.vqgan == "vqgan_imagenet_f16_16384" and resolved.perceptors == ("ViT-B-32:openai",)


def test_json_round_trip_and_unknown_keys():
    c = GenerateConfig(prompts=["a:1", "b:-0.5"], size=[64, 48], schedule=["3=c"], preset="tiny")
    data = json.loads(json.dumps(c.to_dict()))
    assert GenerateConfig.from_dict(data) == c
    with pytest.raises(GeneratorError, match="unknown setting.*stesp in settings; known: "):
        GenerateConfig.from_dict({**data, "stesp": 3})


@pytest.mark.parametrize(("overrides", "message"), [
    ({"steps": -5}, "steps must be at least 1, got -5"),
    ({"prompts": ()}, "at least one prompt"),
    ({"optimizer": "adamm"}, "unknown optimizer 'adamm'; known: adam"),
    ({"device": "tpu"}, "device must be"),
    ({"device": "cpu", "precision": "bf16"}, "not offered on CPU"),
    ({"lr": float("nan")}, "lr must be a finite number"),
    ({"size": (64,)}, "two numbers"),
    ({"cutout_mode": "squish"}, "unknown cutout_mode"),
    ({"augments": ("blur",)}, "unknown augmentation"),
    ({"seed": 1.5}, "seed must be a whole number"),
])
def test_bad_settings_are_explained(overrides, message):
    settings = {"prompts": ("a reef",), **overrides}
    with pytest.raises(GeneratorError, match=message):
        GenerateConfig(**settings)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(UnknownEntry, match="unknown preset 'huge'; known: .*tiny"):
        GenerateConfig(prompts=("a reef",), preset="huge")


def test_replace_checks_again():
    c = GenerateConfig(prompts=("a reef",))
    with pytest.raises(GeneratorError, match="steps"):
        dataclasses.replace(c, steps=0)


def test_size_must_fit_the_vqgan_cell(tmp_path):
    with pytest.raises(GeneratorError, match="size 300x300 is not a multiple of 16 .* use e.g. 304x304"):
        check(GenerateConfig(prompts=("a reef",), size=(300, 300)))
    with pytest.raises(GeneratorError, match="cannot read init image"):
        check(GenerateConfig(prompts=("a reef",), preset="tiny", init_image=str(tmp_path / "none.png")))


def test_every_optimizer_name_has_a_class():
    from generator import config, loop

    assert set(loop.OPTIMIZER_CLASSES) == set(config.OPTIMIZERS)


def test_one_argument_may_hold_several_prompts_joined_by_a_bar():
    cfg = GenerateConfig(prompts=("a coral reef:1|blurry:-0.5",), preset="tiny")
    assert cfg.prompts == ("a coral reef:1", "blurry:-0.5")


@pytest.mark.parametrize("prompt", ["a reef:abc", "a reef:1:x"])
def test_a_malformed_weight_or_stop_is_refused(prompt):
    with pytest.raises(PromptError, match=r"text\[:weight\[:stop\]\]"):
        GenerateConfig(prompts=(prompt,), preset="tiny")
