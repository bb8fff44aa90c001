"""The image tower: named open_clip towers record their config; bad tower names are explained."""

from __future__ import annotations

import json

import pytest
import torch

from curation.scorer.errors import ScorerError
from curation.scorer.tower import TowerConfig, build_tower


def test_bad_tower_specs():
    with pytest.raises(ScorerError, match="the tiny tower has no published weights"):
        build_tower("tiny:openai")
    with pytest.raises(ScorerError, match="unknown tower 'ViT-Q-99'"):
        build_tower("ViT-Q-99")


def test_named_open_clip_tower_records_its_config():
    tower = build_tower("ViT-B-32:random")  # random weights, no download
    assert tower.config.model == "ViT-B-32" and tower.embed_dim == 512 and tower.image_size == 224
    assert TowerConfig.from_dict(json.loads(json.dumps(tower.config.to_dict()))) == tower.config
    assert tower(torch.rand(1, 3, 64, 48)).shape == (1, 512)


def test_tiny_is_the_registered_tiny_clip():
    from generator import registry

    tiny = registry.entry("clip", "tiny")
    tower = build_tower("tiny")
    assert tower.config.model == "tiny" and tower.config.vision_cfg is None
    assert tower.embed_dim == tiny["embed_dim"] and tower.image_size == tiny["vision_cfg"]["image_size"]
    assert TowerConfig.from_dict(json.loads(json.dumps(tower.config.to_dict()))) == tower.config


def test_a_custom_tower_rebuilds_from_its_own_vision_config():
    # as saved before the tiny CLIP became one registered config: its own vision_cfg and a 32-d embedding
    old_tiny = {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8, "mlp_ratio": 2.0,
                "pool_type": "avg"}
    config = TowerConfig(model="tiny", embed_dim=32, image_size=32, vision_cfg=old_tiny)
    tower = build_tower(TowerConfig.from_dict(json.loads(json.dumps(config.to_dict()))))
    assert tower.config == config and tower(torch.rand(2, 3, 32, 32)).shape == (2, 32)
