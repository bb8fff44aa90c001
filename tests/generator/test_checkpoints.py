"""Checkpoints: corrupt or partial files are called so, foreign objects are refused, never unpickled."""

from __future__ import annotations

import random

import pytest

from generator import checkpoints
from generator.errors import CorruptCheckpoint, GeneratorError, UnsafeCheckpoint


def _assert_corrupt_message(message: str, path, size: int) -> None:
    assert "looks corrupt or incomplete" in message and "holds Python objects" not in message
    assert str(path) in message and f"{size:,} bytes" in message
    assert "Delete it and run `dstrtd weights fetch" in message and "\n" not in message


@pytest.mark.parametrize("head", [b"", b"\x80\x02", b"<!DOCTYPE html>"], ids=["random", "pickle-header", "html"])
def test_random_bytes_are_called_corrupt_not_unsafe(tmp_path, head):
    path = tmp_path / "vqgan_imagenet_f16_16384.ckpt"  # a registry file name: the message names its entry
    data = head + bytes(random.Random(0).getrandbits(8) for _ in range(4000))
    path.write_bytes(data)
    with pytest.raises(CorruptCheckpoint) as info:
        checkpoints.load_vqgan_state_dict(path)
    _assert_corrupt_message(str(info.value), path, len(data))
    assert "weights fetch vqgan_imagenet_f16_16384`" in str(info.value)
    assert isinstance(info.value, GeneratorError) and info.value.exit_code == 2


@pytest.mark.parametrize("fmt", ["zip", "legacy", "safetensors"])
def test_truncated_checkpoint_is_called_incomplete(tmp_path, fmt):
    import torch
    from safetensors.torch import save_file

    whole = tmp_path / f"whole.{fmt}"
    sd = {"state_dict": {"w": torch.arange(20000, dtype=torch.float32)}}
    if fmt == "safetensors":
        whole = whole.with_suffix(".safetensors")
        save_file(sd["state_dict"], whole)
    else:
        torch.save(sd, whole, _use_new_zipfile_serialization=fmt == "zip")
    assert checkpoints.extract_state_dict(checkpoints.safe_torch_load(whole) if fmt != "safetensors" else sd, whole)
    part = tmp_path / f"part{whole.suffix}"
    data = whole.read_bytes()[: whole.stat().st_size * 2 // 3]
    part.write_bytes(data)
    with pytest.raises(CorruptCheckpoint) as info:
        checkpoints.load_vqgan_state_dict(part)
    _assert_corrupt_message(str(info.value), part, len(data))
    assert "fetch NAME`" in str(info.value)


def test_a_whole_checkpoint_with_foreign_objects_is_still_called_unsafe(tmp_path):
    import argparse

    import torch

    path = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hparams": argparse.Namespace(lr=1)}, path)
    checkpoints.check_intact(path)
    with pytest.raises(UnsafeCheckpoint, match="holds Python objects .*Namespace"):
        checkpoints.safe_torch_load(path)
