"""The heads: the real public head files (../shared/data) load, score as upstream does, convert exactly."""

from __future__ import annotations

import pytest
import torch

from curation.scorer.errors import ScorerError
from curation.scorer.heads import DistributionHead, PublicHead, load_public_head
from curation.scorer.public import public_head_entry
from curation.scorer.ratings import discretised_normal_logits
from generator.common.files import sha256_file
from training.scorer.metrics import srcc

from .conftest import SHARED_HEADS, bucket_embeddings


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
    assert isinstance(load_public_head(tmp_path / "mine.pth"), PublicHead)
