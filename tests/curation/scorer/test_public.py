"""The public heads' registry and their fetch into the cache (offline: what to put where)."""

from __future__ import annotations

import shutil

import pytest

from curation.scorer.checkpoint import load_scorer
from curation.scorer.errors import ScorerWeightsUnavailable
from curation.scorer.public import fetch_public_head, heads_cache_dir, public_head_entry, public_heads

from .conftest import SHARED_HEADS


def test_registry_entries_are_complete():
    heads = public_heads()
    assert set(SHARED_HEADS) == set(heads)
    for entry in heads.values():
        assert len(entry.sha256) == 64 and entry.url.startswith("https://") and entry.licence in ("MIT", "Apache-2.0")
        assert entry.clip.endswith(":openai") and entry.in_dim in (512, 768)
    assert public_head_entry("simulacra").name == "simulacra-vit-b-16"
    assert public_head_entry("improved").name == "improved-l14"


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
