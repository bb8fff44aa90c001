"""CLIP files in OpenAI's formats load with the activation OpenAI trained with (QuickGELU), through the one loader
the generator's perceptors and the scorer's tower share; a TorchScript archive we cannot vouch for loads once it is
converted with --trust."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from curation.scorer.tower import ClipImageTower, build_tower
from generator.clip_weights import quickgelu_arch
from generator.errors import UnsafeCheckpoint
from generator.perceptors import build_random, load_perceptor
from installation.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_files import openai_model, write_state_dict, write_torchscript  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script, to write the archive

IMAGES = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
TEXTS = ["a coral reef", "a glacier"]


def _uses_quick_gelu(model: torch.nn.Module) -> bool:
    return any(type(m).__name__ == "QuickGELU" for m in model.modules())


def _assert_same_embeddings(perceptor, reference: torch.nn.Module) -> None:
    x = perceptor.preprocess_normalize(IMAGES)
    with torch.no_grad():
        torch.testing.assert_close(perceptor.encode_image(x), reference.encode_image(x), atol=1e-5, rtol=1e-5)
        tokens = perceptor.tokenizer(TEXTS)
        torch.testing.assert_close(perceptor.encode_text(TEXTS), reference.encode_text(tokens), atol=1e-5, rtol=1e-5)


def test_gelu_would_be_off() -> None:
    """Why it matters: the same weights under GELU give other embeddings."""
    reference = openai_model()
    gelu = build_random("tiny").eval()
    gelu.load_state_dict(reference.state_dict())
    x = torch.nn.functional.interpolate(IMAGES, size=32)
    with torch.no_grad():
        assert (gelu.encode_image(x) - reference.encode_image(x)).abs().max() > 1e-3


def test_an_openai_state_dict_with_its_bookkeeping_keys_loads_with_quickgelu(tmp_path) -> None:
    reference = openai_model()
    path = write_state_dict(reference, tmp_path / "clip.pt")
    perceptor = load_perceptor(f"tiny:{path}")
    assert _uses_quick_gelu(perceptor.model)
    _assert_same_embeddings(perceptor, reference)


def test_an_openai_torchscript_archive_is_refused_until_converted_then_loads_with_quickgelu(tmp_path, capsys) -> None:
    reference = openai_model()
    path = write_torchscript(reference, tmp_path / "ViT-tiny.pt")
    refused = rf"not one of OpenAI's published .*dstrtd weights convert {path} --trust"
    with pytest.raises(UnsafeCheckpoint, match=refused):
        load_perceptor(f"tiny:{path}")
    assert main(["weights", "convert", str(path), "--trust"]) == 0
    assert "it now loads from this copy" in capsys.readouterr().out
    perceptor = load_perceptor(f"tiny:{path}")
    assert _uses_quick_gelu(perceptor.model)
    _assert_same_embeddings(perceptor, reference)


def test_a_converted_openai_state_dict_keeps_quickgelu(tmp_path) -> None:
    """`weights convert --trust` on a pickle with foreign objects that also carries OpenAI's keys."""
    reference = openai_model()
    path = tmp_path / "clip.pt"
    torch.save({"state_dict": {**reference.state_dict(), "vocab_size": torch.tensor(49408)}, "note": print}, path)
    with pytest.raises(UnsafeCheckpoint, match="dstrtd weights convert"):
        load_perceptor(f"tiny:{path}")
    assert main(["weights", "convert", str(path), "--trust"]) == 0
    perceptor = load_perceptor(f"tiny:{path}")
    assert _uses_quick_gelu(perceptor.model)
    _assert_same_embeddings(perceptor, reference)


def test_the_scorer_tower_reads_the_same_file_with_quickgelu(tmp_path) -> None:
    reference = openai_model()
    path = write_state_dict(reference, tmp_path / "clip.pt")
    tower = build_tower(f"tiny:{path}")
    assert tower.config.quick_gelu and _uses_quick_gelu(tower.visual)
    expected = ClipImageTower(tower.config, reference.visual)
    with torch.no_grad():
        torch.testing.assert_close(tower(IMAGES), expected(IMAGES), atol=1e-5, rtol=1e-5)


def test_openai_weights_named_by_an_architecture_get_its_quickgelu_twin() -> None:
    assert quickgelu_arch("ViT-B-32") == "ViT-B-32-quickgelu"
    assert quickgelu_arch("ViT-B-32-quickgelu") == "ViT-B-32-quickgelu"
    assert quickgelu_arch("tiny") is None  # built with QuickGELU forced instead


@pytest.mark.parametrize(("content", "message"), [
    ("plain", r"plain.pkl holds no state dict of tensors \(.*found dict of other values\)"),
    ("missing", r"missing.pt does not exist; give the path of the .ckpt/.pt file to convert"),
])
def test_weights_convert_of_a_plain_pickle_or_a_missing_file_is_one_line(tmp_path, capsys, content, message) -> None:
    import pickle

    path = tmp_path / ("plain.pkl" if content == "plain" else "missing.pt")
    if content == "plain":
        path.write_bytes(pickle.dumps({"learning_rate": 0.1}))
    assert main(["weights", "convert", str(path), "--trust"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dstrtd weights: error: ") and "unexpected" not in err
    assert re.search(message, err), err


def test_a_plain_pickle_of_tensors_converts(tmp_path, capsys) -> None:
    import pickle

    reference = openai_model()
    path = tmp_path / "clip.pkl"
    path.write_bytes(pickle.dumps({k: v.clone() for k, v in reference.state_dict().items()}))
    assert main(["weights", "convert", str(path), "--trust"]) == 0
    assert not _uses_quick_gelu(load_perceptor(f"tiny:{path}").model)  # no sign of OpenAI's: as named
