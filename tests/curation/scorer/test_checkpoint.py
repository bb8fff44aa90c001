"""Scorer checkpoints and specs: strict round trips for every head kind, mismatches refused, bad names explained."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from curation.scorer.checkpoint import HEAD_KINDS, load_scorer
from curation.scorer.errors import ScorerError
from curation.scorer.heads import HeadConfig
from curation.scorer.model import build_scorer
from generator.common.files import sha256_file


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


def test_a_head_file_outside_the_registry_has_no_known_tower(tmp_path):
    torch.save(torch.nn.Linear(512, 1).state_dict(), tmp_path / "mine.pth")
    with pytest.raises(ScorerError, match="not a registry head .* its CLIP tower is unknown"):
        load_scorer(str(tmp_path / "mine.pth"))


@pytest.mark.weights
def test_public_scorer_with_real_clip_weights():
    """Needs OpenAI's ViT-B/32 in the weights cache (dstrtd weights); run with pytest -m weights."""
    scorer = load_scorer("laion-vit-b-32")
    scores = scorer.score(torch.rand(2, 3, 224, 224))
    assert scores.shape == (2,) and ((scores >= 1) & (scores <= 10)).all()


def test_every_head_kind_saves_and_loads_by_its_kind(tmp_path):
    from curation.scorer.heads import PublicHead
    from curation.scorer.model import AestheticScorer
    from curation.scorer.text_head import build_text_head
    from curation.scorer.tower import build_tower

    assert set(HEAD_KINDS) == {"distribution", "public", "logits-per-text"}
    torch.manual_seed(2)
    tower = build_tower("tiny")
    heads = {"distribution": build_scorer("tiny").head, "public": PublicHead("simulacra-linear", tower.embed_dim, 1.5),
             "logits-per-text": build_text_head(tower)}
    images = torch.rand(2, 3, 32, 32)
    for kind, head in heads.items():
        assert head.kind == kind and type(head).from_config(head.config_dict()).config_dict() == head.config_dict()
        scorer = AestheticScorer(tower, head, name=kind).eval()
        folder = scorer.save(tmp_path / kind)
        assert json.loads((folder / "scorer.json").read_text())["head"]["type"] == kind
        loaded = load_scorer(str(folder))
        assert type(loaded.head) is type(head) and loaded.head.config_dict() == head.config_dict()
        assert torch.equal(loaded.score(images), scorer.score(images)), kind


def test_an_unknown_head_kind_lists_the_known_ones(tmp_path):
    folder = build_scorer("tiny").save(tmp_path / "ckpt")
    config = json.loads((folder / "scorer.json").read_text())
    config["head"]["type"] = "oracle"
    (folder / "scorer.json").write_text(json.dumps(config))
    with pytest.raises(ScorerError, match="unknown head type 'oracle'; known: distribution, public, logits-per-text"):
        load_scorer(str(folder))
