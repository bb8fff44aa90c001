"""Weights: the registry of public files, a download cache and checksums (`generator.checkpoints` reads them).

The cache is `$DSTRTD_CACHE`, else `~/.cache/dstrtd`: `weights/` holds downloads (or files placed by hand),
`converted/` the safetensors made once from Lightning checkpoints, `checksums.json` remembered sha256s.
Downloads resume (HTTP Range), are verified against the registry's sha256 where it knows one, and appear under
their final name only when complete. They are off when `DSTRTD_OFFLINE=1` (or `HF_HUB_OFFLINE=1`).
Library code draws no progress bars: pass `progress(done_bytes, total_bytes_or_None, filename)`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from generator import registry
from generator.common.files import file_lock, replace_file, sha256_file, write_json_atomic
from generator.errors import GeneratorError, WeightsUnavailable

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
    # several studio workers may ask for the same file at once
    with file_lock(dest.with_name(dest.name + ".lock"), what=f"the download of {wf.filename}"):
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
            if total is not None and done != total:
                raise OSError(f"connection closed after {done} of {total} bytes (run again to resume)")
    digest = sha256_file(part)
    if sha256 and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise WeightsUnavailable(f"{dest.name} from {url} has sha256 {digest}, expected {sha256}; the partial file "
                                 "was deleted, run again to download it afresh")
    replace_file(part, dest)
    _remember_sha256(dest, digest)
    return dest


def checksum(path: str | os.PathLike[str]) -> str:
    """sha256 of a weights file, remembered in the cache by path, size and mtime (weights are large)."""
    path = Path(path).resolve()
    st = path.stat()
    memo = _read_memo()
    known = memo.get(str(path))
    if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
        return known["sha256"]
    digest = sha256_file(path)
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
                yield VerifyResult(label, path, sha256_file(path), wf.sha256)


# --- the checksum memo ----------------------------------------------------------------------------------------

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
    write_json_atomic(_memo_path(), memo, indent=1)
