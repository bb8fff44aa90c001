"""CLIP weight files as people have them: what a file holds, read without running code, and whether it is OpenAI's.

A file is one of
- a trusted conversion (`dstrtd weights convert PATH --trust`): safetensors in `<cache>/converted/`, keyed by the
  file's sha256, with its format in the metadata; found first, so a converted file loads like any other;
- a TorchScript archive (OpenAI's own `.pt` files): code as well as weights, so it is read only when its sha256 is one
  of OpenAI's published files (the weights registry), and otherwise refused with the way to convert it;
- a state dict (`.pt`/`.bin`/`.ckpt`, `{"state_dict": ...}` or plain, `module.` prefixes of DDP runs) read with
  `checkpoints.safe_torch_load`, or a `.safetensors` file.

OpenAI's weights were trained with QuickGELU: a model built with open_clip's default GELU gives embeddings ~3e-2
off. They are recognised by their TorchScript form or by the keys OpenAI's state dict carries beside the weights
(`input_resolution`, `context_length`, `vocab_size`, which OpenAI's own loader deletes, as we do); `build_model`
then picks the `-quickgelu` architecture. A state dict of OpenAI's weights re-saved without those keys cannot be
told from others: name the architecture with `-quickgelu` (`ViT-B-32-quickgelu:PATH`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from generator import checkpoints, weights
from generator.errors import GeneratorError, UnsafeCheckpoint

log = logging.getLogger(__name__)

OPENAI_KEYS = ("input_resolution", "context_length", "vocab_size")
OPENAI_FORMAT = "openai"  # the `format` metadata of a converted file holding OpenAI's weights


@dataclass(frozen=True)
class ClipWeights:
    state_dict: dict[str, torch.Tensor]
    openai: bool  # trained with QuickGELU: build the `-quickgelu` architecture
    arch: str | None = None  # the open_clip model, when the registry knows the file by its sha256


def split_openai_keys(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """(the weights without OpenAI's three bookkeeping keys, whether any was there)."""
    kept = {k: v for k, v in state_dict.items() if k not in OPENAI_KEYS}
    return kept, len(kept) != len(state_dict)


def _registered(sha: str) -> weights.WeightsEntry | None:
    return next((e for e in weights.list_entries() if e.open_clip and e.file().sha256 == sha), None)


def torchscript_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], bool]:
    """The weights of a TorchScript archive (only for files that are trusted: registered or vouched for)."""
    with warnings.catch_warnings():  # why: torch deprecates TorchScript, but OpenAI's files are TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        archive = torch.jit.load(str(path), map_location="cpu")
    return split_openai_keys(archive.state_dict())[0], True


def read_clip_weights(path: Path, sha: str) -> ClipWeights:
    """The weights in a CLIP file (see the module docstring); `sha` is the file's sha256."""
    converted = checkpoints.converted_path(sha)
    if converted.is_file():
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(converted), "pt") as f:
            fmt = (f.metadata() or {}).get("format")
        log.debug("using converted %s for %s", converted, path)
        return ClipWeights(load_file(converted), fmt == OPENAI_FORMAT)
    if checkpoints.is_torchscript(path):
        entry = _registered(sha)
        if entry is None:
            raise UnsafeCheckpoint(f"{path} is a TorchScript archive (code, not only weights) whose sha256 is not one "
                                   "of OpenAI's published CLIP files; if you trust it, convert it once: dstrtd weights "
                                   f"convert {path} --trust (then name it as before)")
        state_dict, _ = torchscript_state_dict(path)  # trusted: byte-identical to OpenAI's
        return ClipWeights(state_dict, True, entry.open_clip["model"])  # type: ignore[index]
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        raw: object = load_file(path)
    else:
        raw = checkpoints.safe_torch_load(path)
    state_dict, openai = split_openai_keys(_tensors(raw, path))
    return ClipWeights(state_dict, openai)


def _tensors(obj: object, path: Path) -> dict[str, torch.Tensor]:
    sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GeneratorError(f"{path} holds no CLIP state dict (a mapping of names to tensors); give open_clip's or "
                             "OpenAI's weights file")
    if all(str(k).startswith("module.") for k in sd):  # saved from a DistributedDataParallel model
        sd = {str(k)[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def quickgelu_arch(arch: str) -> str | None:
    """open_clip's `-quickgelu` twin of `arch` when it has one ("ViT-B-32" -> "ViT-B-32-quickgelu"), else None."""
    import open_clip

    if arch.endswith("-quickgelu"):
        return arch
    twin = f"{arch}-quickgelu"
    return twin if open_clip.get_model_config(twin) is not None else None


def load_into(model: nn.Module, state_dict: dict[str, torch.Tensor], path: Path, arch: str) -> None:
    """Load strictly, after the adjustments open_clip's own `load_checkpoint` makes to a state dict."""
    from open_clip.factory import convert_state_dict, resize_pos_embed, resize_text_pos_embed
    from open_clip.model import convert_to_custom_text_state_dict

    state_dict = convert_state_dict(model, state_dict)
    if "positional_embedding" in state_dict and not hasattr(model, "positional_embedding"):
        state_dict = convert_to_custom_text_state_dict(state_dict)
    for key in ("logit_scale", "logit_bias"):
        own = getattr(model, key, None)
        if key in state_dict and own is not None and own.ndim != state_dict[key].ndim:
            state_dict[key] = state_dict[key].reshape(own.shape)
    resize_pos_embed(state_dict, model)
    resize_text_pos_embed(state_dict, model)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise GeneratorError(f"{path} cannot be loaded into CLIP {arch!r}: "
                             f"{' '.join(str(exc).split())[:300]}") from exc
