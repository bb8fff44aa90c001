"""Which compute device a run uses: one rule for the generator, the curators and the trainers.

"auto" takes CUDA where torch sees a GPU, else Apple's MPS, else the CPU; a device asked for by name must exist.
torch is imported inside the function, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.common.errors import DeviceUnavailable

if TYPE_CHECKING:
    import torch


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The `torch.device` for "auto", "cpu", "cuda", "cuda:N" or "mps" (None means "auto")."""
    import torch

    text = "auto" if name is None else str(name)
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise DeviceUnavailable(f"unknown device {text!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device {text!r} asked for, but torch sees no CUDA GPU here; use --device cpu "
                                    "or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"device {text!r} asked for, but torch sees {torch.cuda.device_count()} CUDA "
                                    "GPU(s) here")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceUnavailable(f"device {text!r} asked for, but MPS is not available here; use --device cpu "
                                    "or auto")
    elif device.type != "cpu":
        raise DeviceUnavailable(f"device {text!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device
