"""The logits-per-text head (curation.scorer.text_head) on the tiny tower: shapes, gradients, checkpoint round trip."""

from __future__ import annotations

import json

import pytest
import torch

from curation.scorer.checkpoint import load_scorer
from curation.scorer.errors import ScorerError
from curation.scorer.text_head import (
    DEFAULT_RATING_PROMPTS,
    MAX_LOGIT_SCALE,
    LogitsPerTextHead,
    TextHeadConfig,
    build_text_scorer,
    encode_prompts,
    rating_prompts,
)


@pytest.fixture(scope="module")
def scorer():
    torch.manual_seed(0)
    return build_text_scorer("tiny")


def test_forward_is_a_distribution_over_ten_ratings(scorer):
    images = torch.rand(5, 3, 40, 48)
    probs = scorer(images)
    assert probs.shape == (5, 10) and torch.isfinite(probs).all()
    assert torch.allclose(probs.sum(dim=-1), torch.ones(5), atol=1e-6)
    scores = scorer.score(images)
    assert scores.shape == (5,) and ((scores >= 1) & (scores <= 10)).all()
    assert torch.allclose(scores, probs @ torch.arange(1.0, 11.0), atol=1e-5)


def test_logits_are_clip_logits_per_text(scorer):
    emb = scorer.embed(torch.rand(3, 3, 32, 32))
    head = scorer.head
    per_text = head.logits_per_text(emb)
    assert per_text.shape == (10, 3)
    cos = torch.nn.functional.cosine_similarity(head.prompt_embeddings[:, None], emb[None], dim=-1)
    assert torch.allclose(per_text, head.scale() * cos, atol=1e-5)
    assert torch.allclose(head.logits(emb), per_text.T)


def test_prompt_embeddings_come_from_the_tiny_text_tower(scorer):
    expected, scale, text_model = encode_prompts(scorer.tower.config, DEFAULT_RATING_PROMPTS)
    assert text_model == "tiny" and expected.shape == (10, 64)
    assert torch.equal(scorer.head.prompt_embeddings.detach(), expected)
    assert scale == pytest.approx(scorer.head.scale().item())
    # ten different prompts give ten different embeddings, the same on every call
    assert torch.cdist(expected, expected).add(torch.eye(10)).min() > 0
    assert torch.equal(encode_prompts(scorer.tower.config, DEFAULT_RATING_PROMPTS)[0], expected)


def test_every_trainable_parameter_gets_a_gradient(scorer):
    scorer.train()
    scorer.zero_grad(set_to_none=True)
    probs = scorer(torch.rand(4, 3, 32, 32))
    loss = (probs @ torch.arange(1.0, 11.0) - torch.tensor([2.0, 4.0, 6.0, 9.0])).pow(2).mean()
    loss.backward()
    params = dict(scorer.named_parameters())
    assert "head.prompt_embeddings" in params and "head.logit_scale" in params
    missing = [n for n, p in params.items() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing, missing
    assert all(torch.isfinite(p.grad).all() for p in params.values())
    scorer.eval()


def test_fixed_prompts_are_a_buffer_and_still_saved(tmp_path):
    scorer = build_text_scorer("tiny", "an image of quality {}", learn_prompts=False)
    names = dict(scorer.named_parameters())
    assert "head.prompt_embeddings" not in names and "head.logit_scale" in names
    assert "head.prompt_embeddings" in scorer.state_dict()
    loaded = load_scorer(str(scorer.save(tmp_path / "fixed")))
    assert loaded.head.config.prompts[9] == "an image of quality 10" and not loaded.head.config.learn_prompts


def test_save_load_round_trip_is_exact(scorer, tmp_path):
    with torch.no_grad():
        scorer.head.prompt_embeddings.add_(0.1 * torch.randn(10, 64))  # no longer what the text tower gives
        scorer.head.logit_scale.fill_(3.0)
    folder = scorer.save(tmp_path / "ckpt")
    config = json.loads((folder / "scorer.json").read_text())
    assert config["head"]["type"] == "logits-per-text" and config["head"]["prompts"] == list(DEFAULT_RATING_PROMPTS)
    assert config["head"]["text_model"] == "tiny" and config["head"]["learn_prompts"] is True
    loaded = load_scorer(str(folder))
    assert isinstance(loaded.head, LogitsPerTextHead)
    images = torch.rand(6, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.score(images), scorer.eval().score(images))
        assert torch.equal(loaded(images), scorer(images))


def test_strict_loading_names_the_mismatch(scorer, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = scorer.save(tmp_path / "ckpt")
    state = load_file(str(folder / "scorer.safetensors"))
    del state["head.logit_scale"]
    save_file(state, str(folder / "scorer.safetensors"))
    config = json.loads((folder / "scorer.json").read_text())
    del config["weights_sha256"]  # past the checksum, to the strict load
    (folder / "scorer.json").write_text(json.dumps(config))
    with pytest.raises(ScorerError, match="Missing key.*head.logit_scale"):
        load_scorer(str(folder))
    config["head"]["prompt_bias"] = True
    (folder / "scorer.json").write_text(json.dumps(config))
    with pytest.raises(ScorerError, match="unknown logits-per-text head config keys"):
        load_scorer(str(folder))


def test_rating_prompts_and_bad_inputs():
    assert rating_prompts(None) == DEFAULT_RATING_PROMPTS == rating_prompts(())
    assert rating_prompts("a painting worth {} stars")[0] == "a painting worth 1 stars"
    assert rating_prompts("{style} rated {}")[9] == "{style} rated 10"  # other braces stay as they are
    assert rating_prompts("|".join(f"p{k}" for k in range(10)))[9] == "p9"
    with pytest.raises(ScorerError, match="need 10 non-empty rating prompts"):
        rating_prompts("bad|worse|best")
    with pytest.raises(ScorerError, match="needs 10 prompts"):
        TextHeadConfig(in_dim=32, prompts=("a", "b"))
    with pytest.raises(ScorerError, match="init_logit_scale"):
        TextHeadConfig(in_dim=32, init_logit_scale=MAX_LOGIT_SCALE * 2)
    head = LogitsPerTextHead(TextHeadConfig(in_dim=32))
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(B, 32\), got \(4, 16\)"):
        head(torch.randn(4, 16))
    with pytest.raises(ValueError, match=r"prompt embeddings of shape \(10, 32\)"):
        head.set_prompt_embeddings(torch.randn(9, 32))


def test_temperature_is_clamped_like_clip():
    head = LogitsPerTextHead(TextHeadConfig(in_dim=8))
    with torch.no_grad():
        head.prompt_embeddings.copy_(torch.randn(10, 8))
        head.logit_scale.fill_(10.0)
    assert head.scale().item() == MAX_LOGIT_SCALE
    assert torch.isfinite(head(torch.randn(3, 8))).all()


def test_a_pretrained_tower_loads_its_clip_once_for_both_sides(monkeypatch):
    import generator.perceptors as perceptors

    real = perceptors.load_perceptor
    calls = []

    def counting(name, device="cpu", progress=None):
        calls.append(name)
        return real("ViT-B-32:random", device)  # stands in for downloaded weights: same architecture

    monkeypatch.setattr(perceptors, "load_perceptor", counting)
    scorer = build_text_scorer("ViT-B-32:laion2b_s34b_b79k", learn_prompts=False)
    assert calls == ["ViT-B-32:laion2b_s34b_b79k"]  # one load serves the image tower and the rating prompts
    assert scorer.head.config.text_model == "ViT-B-32:laion2b_s34b_b79k"
    with torch.no_grad():
        probs = scorer(torch.rand(2, 3, 64, 64))
    assert probs.shape == (2, 10) and torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
