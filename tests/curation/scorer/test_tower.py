"""The image tower: named open_clip towers record their config; bad tower names are explained."""

from __future__ import annotations

import json

import pytest
import torch

from curation.scorer.errors import ScorerError
from curation.scorer.tower import TowerConfig, build_tower


def test_bad_tower_specs():
    with pytest.raises(ScorerError, match="the tiny tower has no pretrained weights"):
        build_tower("tiny:openai")
    with pytest.raises(ScorerError, match="unknown tower 'ViT-Q-99'"):
        build_tower("ViT-Q-99")


def test_named_open_clip_tower_records_its_config():
    tower = build_tower("ViT-B-32:random")  # random weights, no download
    assert tower.config.model == "ViT-B-32" and tower.embed_dim == 512 and tower.image_size == 224
    assert TowerConfig.from_dict(json.loads(json.dumps(tower.config.to_dict()))) == tower.config
    assert tower(torch.rand(1, 3, 64, 48)).shape == (1, 512)
