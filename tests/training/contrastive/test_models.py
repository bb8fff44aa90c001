"""The tiny open_clip encoder: forward, backward, every trainable parameter gets a gradient; export and reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.contrastive.errors import ContrastiveError
from training.contrastive.losses import clip_loss
from training.contrastive.models import create_encoder, export_open_clip


def test_tiny_encoder_forward_backward_every_parameter_gets_a_gradient() -> None:
    enc = create_encoder("tiny", embed_dim=32, temperature=0.1, learnable_temperature=True, seed=0)
    images = torch.randn(3, 3, enc.image_size, enc.image_size)
    tokens = enc.tokenizer(["a red circle", "a blue square", "a frog"])
    assert tokens.shape == (3, 32) and tokens.dtype == torch.int64
    image_f, text_f, scale = enc.model(images, tokens)
    assert image_f.shape == text_f.shape == (3, 32)
    torch.testing.assert_close(image_f.norm(dim=-1), torch.ones(3))
    assert scale.item() == pytest.approx(10.0, rel=1e-5)
    loss = clip_loss(image_f, text_f, scale)["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in enc.model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_frozen_temperature_and_seeded_init() -> None:
    a = create_encoder("tiny", learnable_temperature=False, seed=3)
    b = create_encoder("tiny", learnable_temperature=False, seed=3)
    assert not a.model.logit_scale.requires_grad
    for (na, pa), (_, pb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), na


def test_unknown_model_lists_ours_and_open_clips() -> None:
    with pytest.raises(ContrastiveError, match="ours are tiny.*ViT-B-32"):
        create_encoder("ViT-Q-99")


def test_open_clip_names_build_with_random_weights() -> None:
    enc = create_encoder("RN50", embed_dim=256, seed=0)
    assert enc.model.text_projection.shape[1] == 256 and enc.image_size == 224


def test_export_loads_back_through_open_clip(tmp_path: Path) -> None:
    import open_clip

    enc = create_encoder("tiny", seed=1)
    folder = export_open_clip(enc, tmp_path / "encoder")
    again = open_clip.create_model(f"local-dir:{folder}")
    images = torch.randn(2, 3, enc.image_size, enc.image_size)
    enc.model.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(again.encode_image(images), enc.model.encode_image(images))
