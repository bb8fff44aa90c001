"""Weights: the registry of public files, a download cache, checksums and safe checkpoint loading.

The cache is `$DSTRTD_CACHE`, else `~/.cache/dstrtd`: `weights/` holds downloads (or files placed by hand),
`converted/` the safetensors made once from Lightning checkpoints, `checksums.json` remembered sha256s.
Downloads resume (HTTP Range), are verified against the registry's sha256 where it knows one, and appear under
their final name only when complete. They are off when `DSTRTD_OFFLINE=1` (or `HF_HUB_OFFLINE=1`).
Library code draws no progress bars: pass `progress(done_bytes, total_bytes_or_None, filename)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from generator import registry
from generator.errors import GeneratorError, UnsafeCheckpoint, WeightsUnavailable
from generator.files import write_atomic

log = logging.getLogger(__name__)

Progress = Callable[[int, "int | None", str], None]

CHUNK = 1 << 20
TIMEOUT_S = 30  # why: connect/read timeout; a stalled mirror fails over instead of hanging the studio
USER_AGENT = "dstrtd/0.1 (+https://github.com/)"


@dataclass(frozen=True)
class WeightsFile:
    role: str  # "checkpoint" or "config"
    filename: str
    urls: tuple[str, ...]
    sha256: str | None
    size_mb: float | None  # approximate, for listings


@dataclass(frozen=True)
class WeightsEntry:
    name: str
    kind: str  # "vqgan" or "clip"
    description: str
    licence: str
    source: str
    files: tuple[WeightsFile, ...]
    open_clip: Mapping[str, str] | None = None  # {"model": ..., "pretrained": ...} for CLIP entries

    def file(self, role: str = "checkpoint") -> WeightsFile:
        for f in self.files:
            if f.role == role:
                return f
        raise GeneratorError(f"weights {self.name!r} have no {role} file")


def cache_dir() -> Path:
    return Path(os.environ.get("DSTRTD_CACHE") or Path.home() / ".cache" / "dstrtd").expanduser()


def weights_dir() -> Path:
    return cache_dir() / "weights"


def is_offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("DSTRTD_OFFLINE", "HF_HUB_OFFLINE"))


def list_entries() -> list[WeightsEntry]:
    return [get_entry(n) for n in registry.names("weights")]


def get_entry(name: str) -> WeightsEntry:
    data = registry.entry("weights", name)
    files = tuple(WeightsFile(role=f["role"], filename=f["filename"], urls=tuple(f["urls"]), sha256=f.get("sha256"),
                              size_mb=f.get("size_mb")) for f in data["files"])
    return WeightsEntry(name=name, kind=data["kind"], description=data.get("description", ""),
                        licence=data.get("licence", "unknown"), source=data.get("source", ""), files=files,
                        open_clip=data.get("open_clip"))


def find_clip_entry(model: str, pretrained: str) -> WeightsEntry | None:
    """The registry entry holding open_clip `model` (with or without `-quickgelu`) and `pretrained` tag, if any."""
    base = model.removesuffix("-quickgelu")
    for entry in list_entries():
        oc = entry.open_clip
        if oc and oc["model"].removesuffix("-quickgelu") == base and oc["pretrained"] == pretrained:
            return entry
    return None


def fetch(name_or_path: str | os.PathLike[str], role: str = "checkpoint", progress: Progress | None = None) -> Path:
    """A local file for a registry name (cached, else downloaded) or an existing path (returned as is)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = str(name_or_path)
    if name not in registry.names("weights"):
        raise GeneratorError(f"{name!r} is neither a file nor a known weights name; known: "
                             f"{', '.join(registry.names('weights'))}")
    entry = get_entry(name)
    wf = entry.file(role)
    dest = weights_dir() / wf.filename
    if dest.is_file():
        return dest
    size = f", ~{wf.size_mb:g} MB" if wf.size_mb else ""
    place = (f"download {wf.urls[0]} and place it at {dest}, or pass a local path to the file"
             if wf.urls else f"place the file at {dest}, or pass a local path to it")
    if is_offline():
        raise WeightsUnavailable(f"weights {name!r} ({wf.filename}{size}) are not on this machine and downloads are "
                                 f"off (DSTRTD_OFFLINE/HF_HUB_OFFLINE): {place}")
    errors = []
    with _file_lock(dest):  # several studio workers may ask for the same file at once
        if dest.is_file():
            return dest
        for url in wf.urls:
            try:
                return download(url, dest, sha256=wf.sha256, progress=progress)
            except WeightsUnavailable:
                raise
            except (OSError, urllib.error.URLError) as exc:
                errors.append(f"{url}: {exc}")
                log.debug("download of %s from %s failed: %s", wf.filename, url, exc)
    raise WeightsUnavailable(f"weights {name!r} ({wf.filename}{size}) could not be downloaded "
                             f"({'; '.join(errors) or 'no URL known'}): {place}")


def download(url: str, dest: Path, sha256: str | None = None, progress: Progress | None = None) -> Path:
    """Download `url` to `dest`, resuming `dest.part` with an HTTP Range request; verify and rename when done."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not have:  # 416: the part is already whole
            raise
        response = None
    if response is not None:
        with response:
            resumed = have > 0 and response.status == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length else None
            with open(part, "ab" if resumed else "wb") as out:
                done = have
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total, dest.name)
                out.flush()
                os.fsync(out.fileno())
            if total is not None and done != total:
                raise OSError(f"connection closed after {done} of {total} bytes (run again to resume)")
    digest = _hash_file(part)
    if sha256 and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise WeightsUnavailable(f"{dest.name} from {url} has sha256 {digest}, expected {sha256}; the partial file "
                                 "was deleted, run again to download it afresh")
    os.replace(part, dest)
    _remember_sha256(dest, digest)
    return dest


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, remembered in the cache by path, size and mtime (weights are large)."""
    path = Path(path).resolve()
    st = path.stat()
    memo = _read_memo()
    known = memo.get(str(path))
    if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
        return known["sha256"]
    digest = _hash_file(path)
    _remember_sha256(path, digest)
    return digest


def tensors_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of a state dict (for random or in-memory weights)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    name: str
    path: Path | None
    sha256: str | None
    expected: str | None

    @property
    def status(self) -> str:
        if self.path is None:
            return "missing"
        if self.expected is None:
            return "present (no published sha256)"
        return "ok" if self.sha256 == self.expected else "MISMATCH"


def verify(names: list[str] | None = None) -> Iterator[VerifyResult]:
    """Check cached files of the registry (all, or `names`) against their known sha256."""
    for name in names or registry.names("weights"):
        for wf in get_entry(name).files:
            path = weights_dir() / wf.filename
            label = name if wf.role == "checkpoint" else f"{name} ({wf.role})"
            if not path.is_file():
                yield VerifyResult(label, None, None, wf.sha256)
            else:
                yield VerifyResult(label, path, _hash_file(path), wf.sha256)


# --- checkpoints --------------------------------------------------------------------------------------------------

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


class CorruptCheckpoint(GeneratorError):
    """A weights file that is no readable checkpoint at all: random bytes, an error page, a partial download."""


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
    for entry in list_entries():
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
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GeneratorError(f"{path} holds no state dict of tensors (expected a Lightning checkpoint or a state "
                             "dict)")
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
    sha = sha256_file(path)
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
    return cache_dir() / "converted" / f"{source_sha256[:32]}.safetensors"


def save_converted(state_dict: Mapping[str, torch.Tensor], source_sha256: str, source: Path) -> Path:
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    data = save(tensors, metadata={"source_sha256": source_sha256, "source_name": source.name})
    dest = write_atomic(converted_path(source_sha256), data)
    log.info("converted %s to %s", source, dest)
    return dest


def convert_trusted(path: str | os.PathLike[str]) -> Path:
    """Unpickle a checkpoint WITHOUT restrictions (only for files you trust) and cache its weights as safetensors."""
    path = Path(path)
    check_intact(path)
    sha = sha256_file(path)
    obj = torch.load(path, map_location="cpu", weights_only=False)  # the caller vouched for this file
    return save_converted(extract_state_dict(obj, path), sha, path)


# --- helpers ------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _file_lock(dest: Path) -> Iterator[None]:
    """An exclusive lock on `dest.lock` (POSIX; elsewhere no lock) held while `dest` is downloaded."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(dest.with_name(dest.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _memo_path() -> Path:
    return cache_dir() / "checksums.json"


def _read_memo() -> dict[str, Any]:
    try:
        return json.loads(_memo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _remember_sha256(path: Path, digest: str) -> None:
    path = path.resolve()
    st = path.stat()
    memo = _read_memo()
    memo[str(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    write_atomic(_memo_path(), json.dumps(memo, indent=1).encode())
