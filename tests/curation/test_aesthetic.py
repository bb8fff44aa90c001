"""The aesthetic scorer: the tiny model, our checkpoints, the public heads (real files) and the registry."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from curation.aesthetic import (
    AestheticScorer,
    DistributionHead,
    HeadConfig,
    PublicHead,
    ScorerError,
    ScorerWeightsUnavailable,
    TowerConfig,
    build_scorer,
    build_tower,
    discretised_normal_logits,
    distribution_mean,
    fetch_public_head,
    heads_cache_dir,
    load_public_head,
    load_scorer,
    public_head_entry,
    public_heads,
    sha256_file,
)
from training.scorer.metrics import srcc

# registry name -> (file under ../shared/data/aesthetic_heads, LAION bucket embeddings for its CLIP space or None)
SHARED_HEADS = {
    "laion-vit-b-32": ("laion/sa_0_4_vit_b_32_linear.pth", "vit_b_32"),
    "laion-vit-b-16": ("laion/sa_0_4_vit_b_16_linear.pth", None),
    "laion-vit-l-14": ("laion/sa_0_4_vit_l_14_linear.pth", "vit_l_14"),
    "simulacra-vit-b-32": ("simulacra/sac_public_2022_06_29_vit_b_32_linear.pth", "vit_b_32"),
    "simulacra-vit-b-16": ("simulacra/sac_public_2022_06_29_vit_b_16_linear.pth", None),
    "simulacra-vit-l-14": ("simulacra/sac_public_2022_06_29_vit_l_14_linear.pth", "vit_l_14"),
    "improved-l14": ("improved/sac+logos+ava1-l14-linearMSE.pth", "vit_l_14"),
}


@pytest.fixture()
def heads_dir(shared_data):
    folder = shared_data / "aesthetic_heads"
    if not folder.is_dir():
        pytest.skip("../shared/data/aesthetic_heads is absent")
    return folder


def bucket_embeddings(heads_dir, space: str) -> torch.Tensor:
    """LAION's mean CLIP embedding of each human-rating bucket 0..9 -> (10, D)."""
    arrays = [np.load(heads_dir / "laion" / f"{space}_embeddings" / f"rating{i}.npy") for i in range(10)]
    return torch.from_numpy(np.concatenate(arrays)).float()


# ---------------------------------------------------------------------------------------------------------- tiny


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
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(B, 32\), got \(2, 8\)"):
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


# ---------------------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_roundtrip_is_strict(tmp_path):
    torch.manual_seed(1)
    scorer = build_scorer("tiny", HeadConfig(in_dim=32, hidden=(16,), dropout=0.1), name="mine", version="v3").eval()
    folder = scorer.save(tmp_path / "ckpt")
    config = json.loads((folder / "scorer.json").read_text())
    assert config["format"] == "dstrtd.aesthetic-scorer" and config["head"]["hidden"] == [16]
    assert config["weights_sha256"] == sha256_file(folder / "scorer.safetensors")
    images = torch.rand(2, 3, 32, 32)
    for spec in (folder, folder / "scorer.safetensors", folder / "scorer.json"):
        loaded = load_scorer(str(spec))
        assert loaded.name == "mine" and loaded.version == "v3" and not loaded.training
        assert torch.equal(loaded.score(images), scorer.score(images))
    # a run folder holding scorer/ loads too
    shutil.copytree(folder, tmp_path / "run" / "scorer")
    assert torch.equal(load_scorer(str(tmp_path / "run")).score(images), scorer.score(images))


def test_checkpoint_mismatches_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = build_scorer("tiny").save(tmp_path / "ckpt")
    config = json.loads((folder / "scorer.json").read_text())
    state = load_file(str(folder / "scorer.safetensors"))
    state["head.extra"] = torch.zeros(1)
    save_file(state, str(folder / "scorer.safetensors"))
    with pytest.raises(ScorerError, match="do not belong together"):
        load_scorer(str(folder))
    config.pop("weights_sha256")
    (folder / "scorer.json").write_text(json.dumps(config))
    with pytest.raises(ScorerError, match=r"does not match .*Unexpected key\(s\) in state_dict: \"head.extra\""):
        load_scorer(str(folder))
    config["tower"]["colour"] = "red"
    (folder / "scorer.json").write_text(json.dumps(config))
    with pytest.raises(ScorerError, match="unknown tower config keys colour; known: "):
        load_scorer(str(folder))


def test_bad_specs():
    with pytest.raises(ScorerError, match="unknown aesthetic head 'prettiness'; known: .*laion-vit-b-32"):
        load_scorer("prettiness")
    with pytest.raises(FileNotFoundError, match="scorer file or folder not found"):
        load_scorer("runs/nope")
    with pytest.raises(ScorerError, match="the tiny tower has no pretrained weights"):
        build_tower("tiny:openai")
    with pytest.raises(ScorerError, match="unknown tower 'ViT-Q-99'"):
        build_tower("ViT-Q-99")


def test_named_open_clip_tower_records_its_config():
    tower = build_tower("ViT-B-32:random")  # random weights, no download
    assert tower.config.model == "ViT-B-32" and tower.embed_dim == 512 and tower.image_size == 224
    assert TowerConfig.from_dict(json.loads(json.dumps(tower.config.to_dict()))) == tower.config
    assert tower(torch.rand(1, 3, 64, 48)).shape == (1, 512)


# -------------------------------------------------------------------------------------------------- public heads


def test_registry_entries_are_complete():
    heads = public_heads()
    assert set(SHARED_HEADS) == set(heads)
    for entry in heads.values():
        assert len(entry.sha256) == 64 and entry.url.startswith("https://") and entry.licence in ("MIT", "Apache-2.0")
        assert entry.clip.endswith(":openai") and entry.in_dim in (512, 768)
    assert public_head_entry("simulacra").name == "simulacra-vit-b-16"
    assert public_head_entry("improved").name == "improved-l14"


@pytest.mark.parametrize("name", sorted(SHARED_HEADS))
def test_every_real_head_loads_and_matches_the_registry(heads_dir, name):
    rel, _ = SHARED_HEADS[name]
    path = heads_dir / rel
    entry = public_head_entry(name)
    assert sha256_file(path) == entry.sha256 and path.stat().st_size == entry.size
    head = load_public_head(path)
    assert head.format == entry.format and head.in_dim == entry.in_dim and not head.training
    emb = torch.nn.functional.normalize(torch.randn(4, head.in_dim), dim=-1)
    probs = head(emb)
    assert probs.shape == (4, 10) and torch.allclose(probs.sum(1), torch.ones(4))
    scores = head.score(emb)
    assert scores.shape == (4,) and ((scores >= 1) & (scores <= 10)).all()
    assert torch.equal(scores, head.raw(emb).clamp(1, 10))


@pytest.mark.parametrize("name", [n for n, (_, space) in sorted(SHARED_HEADS.items()) if space])
def test_rating_bucket_order_sanity_check(heads_dir, name):
    """The README's check: LAION's mean embeddings of rating buckets 0..9 must score in rising order."""
    rel, space = SHARED_HEADS[name]
    head = load_public_head(heads_dir / rel)
    with torch.no_grad():
        raw = head.raw(bucket_embeddings(heads_dir, space))
        clamped = head.score(bucket_embeddings(heads_dir, space))
    assert (raw[1:] > raw[:-1]).all(), raw.tolist()  # strictly rising
    assert srcc(raw, torch.arange(10.0)) == pytest.approx(1.0)
    assert (clamped[1:] >= clamped[:-1]).all()  # clamping to 1..10 may tie the extreme buckets, never reorder them


def test_known_head_values(heads_dir):
    # the top bucket's embedding, scored by hand with each format's upstream formula
    emb = bucket_embeddings(heads_dir, "vit_b_32")[9:]
    laion = torch.load(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth", map_location="cpu", weights_only=True)
    expected = emb @ laion["weight"].T + laion["bias"]
    assert load_public_head(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth").raw(emb).item() == pytest.approx(
        expected.item(), abs=1e-4)
    sim = torch.load(heads_dir / "simulacra/sac_public_2022_06_29_vit_b_32_linear.pth", map_location="cpu",
                     weights_only=True)
    expected = (emb * 512**0.5) @ sim["linear.weight"].T + sim["linear.bias"]  # simulacra scales by sqrt(D)
    got = load_public_head(heads_dir / "simulacra/sac_public_2022_06_29_vit_b_32_linear.pth").raw(emb)
    assert got.item() == pytest.approx(expected.item(), abs=1e-4)


def test_public_head_converts_exactly_into_a_distribution_head(heads_dir):
    for rel in ("laion/sa_0_4_vit_l_14_linear.pth", "improved/sac+logos+ava1-l14-linearMSE.pth",
                "simulacra/sac_public_2022_06_29_vit_l_14_linear.pth"):
        public = load_public_head(heads_dir / rel)
        head = DistributionHead.from_public(public).eval()
        emb = bucket_embeddings(heads_dir, "vit_l_14")
        with torch.no_grad():
            expected = discretised_normal_logits(public.raw(emb)).softmax(-1)
            assert torch.allclose(head(emb), expected, atol=1e-5), rel
            assert torch.allclose(head(emb), public(emb), atol=1e-5)
            # the means follow the public scores in the middle of the scale (truncation pulls the ends inwards)
            middle = (public.raw(emb) > 3) & (public.raw(emb) < 8)
            assert torch.allclose(head.score(emb)[middle], public.raw(emb)[middle], atol=0.1)


def test_public_head_on_a_tower_of_matching_width(heads_dir):
    cfg = TowerConfig(embed_dim=512)  # a tiny tower that outputs 512-d embeddings, like ViT-B/32
    scorer = AestheticScorer(build_tower(cfg), load_public_head(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth"))
    images = torch.rand(2, 3, 40, 40)
    assert scorer(images).shape == (2, 10) and scorer.score(images).shape == (2,)
    with pytest.raises(ScorerError, match="head reads 768-d embeddings but tower tiny gives 512-d"):
        AestheticScorer(build_tower(cfg), load_public_head(heads_dir / "laion/sa_0_4_vit_l_14_linear.pth"))


def test_public_head_file_errors(tmp_path, heads_dir):
    torch.save({"w": torch.zeros(3)}, tmp_path / "odd.pth")
    with pytest.raises(ScorerError, match="not a known public aesthetic head"):
        load_public_head(tmp_path / "odd.pth")
    with pytest.raises(ScorerError, match="looks like a laion-linear head, not improved-mlp"):
        load_public_head(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth", format="improved-mlp")
    with pytest.raises(FileNotFoundError, match="public aesthetic head file not found"):
        load_public_head(tmp_path / "absent.pth")
    lin = torch.nn.Linear(512, 1)
    torch.save(lin.state_dict(), tmp_path / "mine.pth")
    with pytest.raises(ScorerError, match="not a registry head .* its CLIP tower is unknown"):
        load_scorer(str(tmp_path / "mine.pth"))
    assert isinstance(load_public_head(tmp_path / "mine.pth"), PublicHead)


def test_fetch_uses_the_cache_and_explains_offline_failures(heads_dir, monkeypatch):
    monkeypatch.setenv("DSTRTD_OFFLINE", "1")
    target = heads_cache_dir() / "sa_0_4_vit_b_32_linear.pth"
    with pytest.raises(ScorerWeightsUnavailable, match=f"downloads are off .* put it at {target}"):
        fetch_public_head("laion-vit-b-32")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth", target)
    assert fetch_public_head("laion-vit-b-32") == target  # found by name in $DSTRTD_CACHE, checksum verified
    target.write_bytes(b"corrupt")
    with pytest.raises(ScorerWeightsUnavailable, match="downloads are off"):
        fetch_public_head("laion-vit-b-32")  # a wrong checksum is not trusted
    assert not target.exists()
    # the head is there, the CLIP weights are not: the error names the missing weights (exit code 2 in the CLI)
    shutil.copy(heads_dir / "laion/sa_0_4_vit_b_32_linear.pth", target)
    with pytest.raises(Exception, match="ViT-B-32") as info:
        load_scorer("laion-vit-b-32")
    assert getattr(info.value, "exit_code", None) == 2


@pytest.mark.weights
def test_public_scorer_with_real_clip_weights():
    """Needs OpenAI's ViT-B/32 in the weights cache (dstrtd weights); run with pytest -m weights."""
    scorer = load_scorer("laion-vit-b-32")
    scores = scorer.score(torch.rand(2, 3, 224, 224))
    assert scores.shape == (2,) and ((scores >= 1) & (scores <= 10)).all()
