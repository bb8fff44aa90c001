"""CLIP models written the way OpenAI publishes them, for the loaders' tests: a real open_clip model (tiny config,
random weights, QuickGELU as OpenAI trained with) saved as a TorchScript archive or as a state dict that carries
OpenAI's bookkeeping keys."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from generator.perceptors import build_random

BOOKKEEPING = {"input_resolution": 32, "context_length": 32, "vocab_size": 49408}  # tiny.json's


def openai_model(seed: int = 3) -> nn.Module:
    """The reference: tiny CLIP with QuickGELU, seeded, in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_random("tiny", quick_gelu=True).eval()


def write_state_dict(model: nn.Module, path: Path) -> Path:
    """OpenAI's state dict: the weights plus `input_resolution`, `context_length` and `vocab_size`."""
    torch.save({**model.state_dict(), **{k: torch.tensor(v) for k, v in BOOKKEEPING.items()}}, path)
    return path


class _Archive(nn.Module):
    """The same parameters and buffers under the same names, plus OpenAI's three, in a scriptable module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        for name, p in model.named_parameters(recurse=False):
            self.register_parameter(name, p)
        for name, b in model.named_buffers(recurse=False):
            if name not in model._non_persistent_buffers_set:  # TorchScript would save those too
                self.register_buffer(name, b)
        for name, value in BOOKKEEPING.items():
            self.register_buffer(name, torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def write_torchscript(model: nn.Module, path: Path) -> Path:
    """A TorchScript archive, as OpenAI's `ViT-B-32.pt` is one."""
    torch.jit.save(torch.jit.script(_Archive(model)), str(path))
    return path
