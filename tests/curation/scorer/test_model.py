"""The scorer (tower + head) on the tiny tower: forward, score, gradients, input checks, PIL images."""

from __future__ import annotations

import pytest
import torch

from curation.scorer.checkpoint import load_scorer
from curation.scorer.errors import ScorerError
from curation.scorer.heads import load_public_head
from curation.scorer.model import AestheticScorer
from curation.scorer.ratings import distribution_mean
from curation.scorer.tower import TowerConfig, build_tower
from generator import registry


def test_tiny_forward_score_and_gradients():
    scorer = load_scorer("tiny")
    assert scorer.name == "tiny" and scorer.version and scorer.image_size == 32
    images = torch.rand(3, 3, 45, 60)  # any size: resized and centre-cropped inside
    probs = scorer(images)
    assert probs.shape == (3, 10) and torch.allclose(probs.sum(1), torch.ones(3))
    scores = scorer.score(images)
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    assert ((scores >= 1) & (scores <= 10)).all()
    assert torch.allclose(scores, distribution_mean(probs))
    # a batch scores each image as it would alone
    assert torch.allclose(scorer.score(images[1:2]), scores[1:2], atol=1e-5)
    # same weights every time
    assert torch.equal(load_scorer("tiny").score(images), scores)

    scorer.train()
    scorer.score(torch.rand(2, 3, 32, 32)).sum().backward()
    missing = [n for n, p in scorer.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing


def test_input_checks_name_shapes():
    scorer = load_scorer("tiny")
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 3, H, W\) in \[0, 1\], got \(3, 32, 32\)"):
        scorer.score(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(B, 64\), got \(2, 8\)"):
        scorer.score_embeddings(torch.rand(2, 8))
    with pytest.raises(ValueError, match=r"expected probabilities of shape \(B, 10\), got \(2, 9\)"):
        distribution_mean(torch.rand(2, 9))


def test_score_images_takes_pil_images_of_any_size():
    from PIL import Image

    scorer = load_scorer("tiny")
    imgs = [Image.new("RGB", (50, 30), (200, 10, 10)), Image.new("L", (32, 32), 128)]
    scores = scorer.score_images(imgs, batch_size=1)
    assert scores.shape == (2,) and torch.isfinite(scores).all()
    with pytest.raises(TypeError, match="takes PIL images"):
        scorer.score_images([torch.rand(3, 8, 8)])


def test_public_head_on_a_tower_of_matching_width(heads_dir):
    # a custom tiny tower that outputs 512-d embeddings, like ViT-B/32
    vision_cfg = registry.entry("clip", "tiny")["vision_cfg"]
    cfg = TowerConfig(model="tiny", embed_dim=512, image_size=32, vision_cfg=vision_cfg)
    scorer = AestheticScorer(build_tower(cfg), load_public_head(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth"))
    images = torch.rand(2, 3, 40, 40)
    assert scorer(images).shape == (2, 10) and scorer.score(images).shape == (2,)
    with pytest.raises(ScorerError, match="head reads 768-d embeddings but tower tiny gives 512-d"):
        AestheticScorer(build_tower(cfg), load_public_head(heads_dir / "laion/sa_0_4_vit_l_14_linear.pth"))
