"""VQGAN: shapes, gradients, and upstream Lightning checkpoints loaded strictly and safely."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from generator import checkpoints, weights
from generator.errors import GeneratorError, UnsafeCheckpoint
from generator.vqgan import build_vqgan, load_vqgan


@pytest.mark.parametrize("name", ["tiny", "tiny_gumbel"])
def test_tiny_encode_decode_shapes_and_gradients(name):
    model = build_vqgan(name)
    x = torch.rand(1, 3, 64, 48) * 2 - 1
    z = model.encode(x)
    assert z.shape == (1, 16, 8, 6)
    z = z.detach().requires_grad_(True)
    out = model.decode(z)
    assert out.shape == (1, 3, 64, 48) and torch.isfinite(out).all()
    out.square().mean().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    model.requires_grad_(True)
    model.decode(model.encode(x)).mean().backward()
    # every parameter but the codebook (upstream trains it through the commitment loss, not the image)
    no_grad = [n for n, p in model.named_parameters() if p.grad is None and not n.startswith("quantize.")]
    assert not no_grad


class _FakeModelCheckpoint:
    pass


def _lightning_checkpoint(tmp_path, monkeypatch, model, extra=None):
    """A checkpoint as taming's Lightning 1.x training wrote it: callbacks keyed by class, loss.* weights."""
    module = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")
    _FakeModelCheckpoint.__module__ = module.__name__
    _FakeModelCheckpoint.__qualname__ = _FakeModelCheckpoint.__name__ = "ModelCheckpoint"
    module.ModelCheckpoint = _FakeModelCheckpoint
    for name in ("pytorch_lightning", "pytorch_lightning.callbacks"):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name) or types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    state_dict = dict(model.state_dict())
    state_dict["loss.discriminator.main.0.weight"] = torch.randn(4, 3, 4, 4)
    state_dict["loss.perceptual_loss.net.slice1.0.bias"] = torch.randn(4)
    ckpt = {"epoch": 3, "global_step": 1234, "pytorch-lightning_version": "1.0.8", "state_dict": state_dict,
            "callbacks": {_FakeModelCheckpoint: {"best_model_score": torch.tensor(0.5), "best_model_path": "x"}},
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 4.5e-6, "params": [0, 1]}]}],
            "lr_schedulers": []}
    ckpt.update(extra or {})
    path = tmp_path / "last.ckpt"
    torch.save(ckpt, path)
    return path


def test_lightning_checkpoint_loads_strictly_and_is_converted_once(tmp_path, monkeypatch):
    source = build_vqgan("tiny", seed=7)
    path = _lightning_checkpoint(tmp_path, monkeypatch, source)
    model, name, sha = load_vqgan(f"tiny:{path}")
    assert name == "tiny" and sha == weights.checksum(path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert checkpoints.converted_path(sha).is_file()

    def refuse(path):
        raise AssertionError("the checkpoint was unpickled again instead of using the converted safetensors")

    monkeypatch.setattr(checkpoints, "safe_torch_load", refuse)
    again, _, _ = load_vqgan(str(path))  # a bare path: the config is recognised from the tensor shapes
    assert again.config.name == "tiny"
    assert torch.equal(again.codebook, source.codebook)


def test_checkpoint_that_does_not_fit_says_so(tmp_path):
    state_dict = build_vqgan("tiny").state_dict()
    del state_dict["quant_conv.bias"]
    path = tmp_path / "broken.ckpt"
    torch.save({"state_dict": state_dict}, path)
    with pytest.raises(GeneratorError, match="does not fit VQGAN config 'tiny'.*quant_conv.bias"):
        load_vqgan(f"tiny:{path}")
    with pytest.raises(GeneratorError, match="match none of the VQGAN configs"):
        load_vqgan(str(path))


class Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_checkpoint_with_foreign_objects_is_refused_then_converted_when_trusted(tmp_path, monkeypatch):
    path = _lightning_checkpoint(tmp_path, monkeypatch, build_vqgan("tiny"), extra={"hparams": Payload()})
    with pytest.raises(UnsafeCheckpoint, match=r"builtins.print.*dstrtd weights convert .*last.ckpt --trust"):
        load_vqgan(f"tiny:{path}")
    checkpoints.convert_trusted(path)
    model, _, _ = load_vqgan(f"tiny:{path}")
    assert model.codebook.shape == (256, 16)


def test_bad_specs_are_explained(tmp_path):
    with pytest.raises(GeneratorError, match="unknown VQGAN 'nope'"):
        load_vqgan("nope")
    with pytest.raises(GeneratorError, match="is not a file"):
        load_vqgan(f"tiny:{tmp_path / 'missing.ckpt'}")
