"""Checkpoints we cannot vouch for: intact-file checks, safe unpickling, and conversion to safetensors.

A pickle checkpoint (`.ckpt`, `.pt`) is read with `torch.load(weights_only=True)` plus an allow-list for what
Lightning checkpoints need; anything else is refused (`UnsafeCheckpoint`) unless the user converts the file once with
`dstrtd weights convert PATH --trust`. Files that are no checkpoint at all (an error page, a partial download) are
`CorruptCheckpoint`, with what to do. Converted weights are cached as safetensors under `<cache>/converted/`, keyed by
the source file's sha256, so later loads unpickle nothing.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from generator import weights
from generator.common.files import write_bytes_atomic
from generator.errors import CorruptCheckpoint, GeneratorError, UnsafeCheckpoint

log = logging.getLogger(__name__)


class _LightningStub:
    """Stands in for Lightning callback classes that old checkpoints keep in their `callbacks` dict (as keys)."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state


_LIGHTNING_NAMES = [f"{pkg}.callbacks.{mod}.{cls}"
                    for pkg in ("pytorch_lightning", "lightning.pytorch")
                    for mod, cls in (("model_checkpoint", "ModelCheckpoint"), ("early_stopping", "EarlyStopping"),
                                     ("lr_monitor", "LearningRateMonitor"))]


def _safe_globals() -> list[Any]:
    """What a training checkpoint needs beyond tensors: Lightning callback keys (stubbed), numpy scalars."""
    allowed: list[Any] = [(_LightningStub, n) for n in _LIGHTNING_NAMES]
    import numpy as np

    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import scalar
    # Old checkpoints name numpy 1's module path; both resolve to the same scalar-from-bytes function.
    allowed += [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"),
                (np.dtype, "numpy.dtype")]
    allowed += [getattr(np.dtypes, n) for n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType")
                if hasattr(np.dtypes, n)]
    return allowed


def is_torchscript(path: Path) -> bool:
    """True for a TorchScript archive (code and weights; OpenAI's CLIP `.pt` files are such)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("constants.pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


_PICKLE_PROTOCOLS = range(2, 6)  # why: torch's legacy format pickles with protocol 2; 3-5 for plain pickles
_SAFETENSORS_MAX_HEADER = 100 << 20  # why: safetensors itself refuses headers above 100 MB


def check_intact(path: str | os.PathLike[str]) -> None:
    """Raise `CorruptCheckpoint` unless `path` starts like a zip-based torch checkpoint (and its zip directory is
    there), a pickle, or a safetensors file (with all the bytes its header promises). Reads only the ends."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise _corrupt(path, size, "it is empty")
    with open(path, "rb") as f:
        head = f.read(64)
        if head.startswith(b"PK\x03\x04"):
            if not zipfile.is_zipfile(path):
                raise _corrupt(path, size, "it starts like a zip-based torch checkpoint but the zip directory at its "
                                           "end is missing (cut short)")
            return
        if len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS:
            return
        n = int.from_bytes(head[:8], "little") if len(head) >= 9 else 0
        if 2 <= n <= _SAFETENSORS_MAX_HEADER and head[8:9] == b"{":
            if 8 + n > size:
                raise _corrupt(path, size, f"its safetensors header alone needs {8 + n:,} bytes")
            f.seek(8)
            try:
                header = json.loads(f.read(n))
                end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                raise _corrupt(path, size, "its safetensors header is not valid JSON") from None
            if 8 + n + end > size:
                raise _corrupt(path, size, f"its safetensors header promises {8 + n + end:,} bytes")
            return
    what = "text or an HTML page (an error page saved under this name?)" if head.lstrip()[:1] in (b"<", b"{") \
        else f"unknown bytes ({head[:8].hex()})"
    raise _corrupt(path, size, f"it is neither a zip-based torch checkpoint, a pickle, nor safetensors, but starts "
                               f"with {what}")


def _corrupt(path: Path, size: int, reason: str) -> CorruptCheckpoint:
    name, expected = "NAME", ""
    for entry in weights.list_entries():
        for wf in entry.files:
            if wf.filename == path.name:
                name = entry.name
                expected = f", ~{wf.size_mb:g} MB expected" if wf.size_mb else ""
    return CorruptCheckpoint(
        f"weights file {path} ({size:,} bytes, {size / 2**20:.1f} MB{expected}) looks corrupt or incomplete: "
        f"{reason}; a broken or partial download or copy? Delete it and run `dstrtd weights fetch {name}` again "
        "(or copy the file again)")


_TRUNCATION_HINTS = ("unexpected eof", "truncated", "ran out of input", "might be corrupted", "unsupported operand",
                     "invalid load key")


def safe_torch_load(path: Path) -> Any:
    """`torch.load(weights_only=True)` plus an allow-list for Lightning checkpoints; anything else is refused.

    Raises `CorruptCheckpoint` for files that are no checkpoint (see `check_intact`) or whose pickle breaks off
    before it names any Python object, `UnsafeCheckpoint` for objects outside the allow-list."""
    check_intact(path)
    if is_torchscript(path):
        raise UnsafeCheckpoint(f"{path} is a TorchScript archive, which is code, not weights; give a state dict, "
                               ".ckpt or .safetensors file")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or others depending on the opcode
        text = " ".join(str(exc).split())
        if "Unsupported global" not in text and (isinstance(exc, EOFError)
                                                 or any(h in text.lower() for h in _TRUNCATION_HINTS)):
            try:
                found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            except Exception:
                found = []
            if not found:
                raise _corrupt(path, path.stat().st_size, f"torch could not read it to the end "
                                                          f"({type(exc).__name__}: {_tail(text)})") from exc
        if "weights_only" not in text and "Unsupported" not in text:
            raise GeneratorError(f"cannot read checkpoint {path}: {type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:300]}") from exc
        try:
            found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:
            found = []
        what = ", ".join(found) or "objects outside the allow-list"
        raise UnsafeCheckpoint(
            f"{path} holds Python objects ({what}) that are not unpickled from files we cannot vouch for; if you "
            f"trust the file, convert it once: dstrtd weights convert {path} --trust") from exc


def _tail(text: str) -> str:
    """The informative part of torch's long weights_only message."""
    i = text.find("WeightsUnpickler error:")
    text = text[i + len("WeightsUnpickler error:"):].strip() if i >= 0 else text
    return text.split(" Check the documentation")[0][:160] or "no detail"


def extract_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The model weights of a Lightning checkpoint ({"state_dict": ...}) or a plain state dict, minus `loss.*`."""
    sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        found = f"{type(obj).__name__} of other values" if isinstance(obj, Mapping) else type(obj).__name__
        raise GeneratorError(f"{path} holds no state dict of tensors (expected a Lightning checkpoint or a state "
                             f"dict, found {found})")
    dropped = [k for k in sd if k.startswith("loss.")]
    if dropped:
        log.info("skipped %d loss.* tensors of %s (training-only discriminator/LPIPS)", len(dropped), path.name)
    return {k: v for k, v in sd.items() if not k.startswith("loss.")}


def load_vqgan_state_dict(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], str]:
    """VQGAN weights from a `.ckpt`/`.pt`/`.safetensors` file, and the sha256 of that file.

    A pickle checkpoint is loaded safely once and converted to safetensors in `converted/` (keyed by its sha256),
    so later loads are fast and unpickle nothing.
    """
    from safetensors.torch import load_file

    path = Path(path)
    check_intact(path)
    sha = weights.checksum(path)
    if path.suffix == ".safetensors":
        return extract_state_dict(load_file(path), path), sha
    converted = converted_path(sha)
    if converted.is_file():
        log.debug("using converted %s for %s", converted, path)
        return load_file(converted), sha
    state_dict = extract_state_dict(safe_torch_load(path), path)
    save_converted(state_dict, sha, path)
    return state_dict, sha


def converted_path(source_sha256: str) -> Path:
    return weights.cache_dir() / "converted" / f"{source_sha256[:32]}.safetensors"


def save_converted(state_dict: Mapping[str, torch.Tensor], source_sha256: str, source: Path,
                   fmt: str | None = None) -> Path:
    """Cache `state_dict` as safetensors keyed by its source file's sha256; `fmt` ("openai") tells a loader how the
    weights were trained."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    metadata = {"source_sha256": source_sha256, "source_name": source.name, **({"format": fmt} if fmt else {})}
    data = save(tensors, metadata=metadata)
    dest = write_bytes_atomic(converted_path(source_sha256), data)
    log.info("converted %s to %s", source, dest)
    return dest


def convert_trusted(path: str | os.PathLike[str]) -> Path:
    """Read a checkpoint WITHOUT restrictions (only for files you trust: a pickle may run code, a TorchScript archive
    is code) and cache its weights as safetensors, where every loader (VQGAN or CLIP) finds them by the file's sha256.
    CLIP weights in OpenAI's layout (TorchScript, or a state dict with OpenAI's bookkeeping keys) are recorded as
    such, so they load with QuickGELU."""
    from generator.clip_weights import OPENAI_FORMAT, split_openai_keys, torchscript_state_dict

    path = Path(path)
    if not path.is_file():
        raise GeneratorError(f"{path} does not exist; give the path of the .ckpt/.pt file to convert")
    check_intact(path)
    sha = weights.checksum(path)
    if is_torchscript(path):
        state_dict, openai = torchscript_state_dict(path)
    else:
        state_dict, openai = split_openai_keys(extract_state_dict(_unpickle(path), path))
    return save_converted(state_dict, sha, path, OPENAI_FORMAT if openai else None)


def _unpickle(path: Path) -> Any:
    """A torch checkpoint, or a plain pickle (`pickle.dump`), read without restrictions."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)  # the caller vouched for this file
    except Exception as exc:
        if "magic number" not in str(exc).lower():
            raise GeneratorError(f"cannot read {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") \
                from exc
    import pickle

    try:
        with open(path, "rb") as f:
            return pickle.load(f)  # noqa: S301 - a plain pickle the caller vouched for
    except Exception as exc:
        raise GeneratorError(f"cannot read {path} as a pickle: {type(exc).__name__}: {exc}") from exc
