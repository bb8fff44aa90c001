"""Perceptors: the tiny open_clip model, names, weights files, clear errors."""

from __future__ import annotations

import pytest
import torch

from generator.errors import GeneratorError, UnsafeCheckpoint, WeightsUnavailable
from generator.perceptors import load_perceptor, split_weight


def test_tiny_perceptor_encodes_and_is_frozen():
    p = load_perceptor("tiny")
    assert p.input_resolution == 32 and p.embed_dim == 64
    images = torch.rand(3, 3, 32, 32, requires_grad=True)
    emb = p.encode_image(p.preprocess_normalize(images))
    assert emb.shape == (3, 64) and emb.dtype == torch.float32
    emb.sum().backward()
    assert images.grad.abs().sum() > 0
    assert not any(q.requires_grad for q in p.parameters())
    assert p.encode_text(["a coral reef", "a glacier"]).shape == (2, 64)
    assert p.embed_images(torch.rand(2, 3, 50, 70)).shape == (2, 64)
    assert load_perceptor("tiny").sha256 == p.sha256  # seeded: the same weights everywhere


def test_split_weight():
    assert split_weight("ViT-B-32:openai") == ("ViT-B-32:openai", 1.0)
    assert split_weight("ViT-B-16:openai@0.5") == ("ViT-B-16:openai", 0.5)
    assert split_weight("local-dir:/a@b/c") == ("local-dir:/a@b/c", 1.0)


@pytest.mark.parametrize(("spec", "message"), [
    ("ViT-Q-99:openai", "unknown CLIP model 'ViT-Q-99'"),
    ("ViT-B-32", "say which weights CLIP 'ViT-B-32' should use: ViT-B-32:TAG with TAG one of openai"),
    ("ViT-B-32:nonsense", "unknown weights 'nonsense' for CLIP 'ViT-B-32'; known: openai"),
    ("ViT-B-32:/no/such/file.pt", "does not exist"),
])
def test_bad_names(spec, message):
    with pytest.raises(GeneratorError, match=message):
        load_perceptor(spec)


def test_openai_weights_offline_name_the_file(monkeypatch):
    monkeypatch.setenv("DSTRTD_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable, match=r"ViT-B-32\.pt.*openaipublic.*place it at"):
        load_perceptor("ViT-B-32:openai")


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_foreign_torchscript_is_refused(tmp_path):
    path = tmp_path / "ViT-B-32.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(UnsafeCheckpoint, match="TorchScript archive .* not one of OpenAI's published"):
        load_perceptor(f"ViT-B-32:{path}")


def test_local_dir_export_loads_like_the_original(tmp_path):
    import json

    from safetensors.torch import save_file

    from generator import registry

    tiny = load_perceptor("tiny")
    model_cfg = registry.entry("clip", "tiny")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in tiny.model.state_dict().items()}, tmp_path / "open_clip_model.safetensors")
    loaded = load_perceptor(str(tmp_path))
    assert loaded.sha256 != tiny.sha256 and len(loaded.sha256) == 64  # the file's checksum
    images = torch.rand(2, 3, 32, 32)
    texts = ["a coral reef"]
    assert torch.allclose(loaded.embed_images(images), tiny.embed_images(images), atol=1e-5)
    assert torch.allclose(loaded.encode_text(texts), tiny.encode_text(texts), atol=1e-5)


def test_weights_file_of_another_model_is_explained(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, path)
    with pytest.raises(GeneratorError, match="cannot be loaded into CLIP 'ViT-S-32'"):
        load_perceptor(f"ViT-S-32:{path}")
    with pytest.raises(GeneratorError, match="say which architecture"):
        load_perceptor(str(path))


def test_tiny_is_one_registered_open_clip_config():
    import open_clip

    from generator import registry
    from generator.perceptors import TINY, register_clip_configs

    register_clip_configs()
    assert open_clip.get_model_config(TINY) == registry.entry("clip", "tiny")
    assert TINY in registry.names("clip")
    tiny = load_perceptor(TINY)
    assert tiny.model.visual.output_dim == registry.entry("clip", "tiny")["embed_dim"]
