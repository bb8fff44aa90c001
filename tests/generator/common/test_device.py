"""generator.common.device: one rule for every part; a device that is not there is a clear error."""

from __future__ import annotations

import pytest
import torch

from generator.common.device import resolve_device
from generator.common.errors import DeviceUnavailable


def test_auto_and_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else None
    auto = resolve_device("auto")
    if expected:
        assert auto.type == expected
    assert resolve_device(None) == auto
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(DeviceUnavailable, match="torch sees no CUDA GPU here; use --device cpu or auto"):
        resolve_device("cuda:0")


@pytest.mark.parametrize("name", ["tpu", "banana", "cuda:x"])
def test_unknown_devices_are_refused(name: str) -> None:
    with pytest.raises(DeviceUnavailable, match="use auto, cpu, cuda, cuda:N or mps"):
        resolve_device(name)
