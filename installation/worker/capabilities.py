"""What a worker can run, said to the catalog when it starts and used to claim only the jobs it can run.

A worker on a small GPU leaves the 1024 px jobs to a larger one, and a machine without a model's weights (offline)
leaves the jobs that name it to machines that have them, instead of failing them. A job whose settings do not even
make a config is claimed anyway: it fails with its reason, as it would anywhere.

- device: the torch device the worker runs on ("cuda:0", "cpu"), and its memory in MB;
- max_pixels: the largest width x height it takes (`--max-pixels`, else from the GPU's memory);
- models: the registry weights already on this machine, and whether missing ones may be downloaded.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generator.config import GenerateConfig

log = logging.getLogger(__name__)

# why 40 KB per pixel: nerdyrodent's VQGAN+CLIP README measures 380x380 in 8 GB, 512x512 in 10 GB and 900x900 in
# 24 GB of VRAM (ImageNet f16 16384, ViT-B/32, cutn 32): about 27-58 KB a pixel; 40 KB leaves room for the rest
BYTES_PER_PIXEL = 40_000


@dataclass(frozen=True)
class Capabilities:
    device: str
    memory_mb: int | None
    max_pixels: int | None  # None: no limit known (CPU: the machine's memory is the limit)
    models: tuple[str, ...]  # registry weights on this machine
    downloads: bool  # missing weights may be fetched (not DSTRTD_OFFLINE / HF_HUB_OFFLINE)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.device}, {self.memory_mb or '?'} MB, at most {self.max_pixels or 'any number of'} pixels, "
                f"{len(self.models)} model file(s) here, downloads {'on' if self.downloads else 'off'}")

    def refusal(self, config: GenerateConfig, wanted_device: str | None) -> str | None:
        """Why this worker cannot run `config` (None: it can). `wanted_device`: the device the job itself names."""
        from generator.common.device import resolve_device

        if wanted_device not in (None, "", "auto"):
            try:
                kind = resolve_device(wanted_device).type
            except Exception as exc:
                return f"it asks for device {wanted_device!r} ({exc})"
            if kind != self.device.split(":")[0]:
                return f"it asks for a {kind} device and this worker runs on {self.device}"
        w, h = (int(v) for v in config.size)
        if self.max_pixels is not None and w * h > self.max_pixels:
            return f"it is {w}x{h} and this worker takes at most {self.max_pixels} pixels"
        for spec, kind in ((config.vqgan, "vqgan"), *((p, "clip") for p in config.perceptors)):
            if not self.has_model(str(spec), kind):
                return f"its model {spec!r} is not on this machine and downloads are off"
        return None

    def has_model(self, spec: str, kind: str) -> bool:
        """Whether `spec` loads here without a download it may not make; unknown forms count as loadable (the
        generator says what is wrong with them)."""
        if self.downloads:
            return True
        weights = _weights_of(spec.split("@")[0], kind)
        return weights is None or weights in self.models


def _weights_of(spec: str, kind: str) -> str | None:
    """The registry weights `spec` needs from the cache, or None (no weights, a local file, or not the registry's)."""
    from generator import registry, weights

    name, sep, rest = spec.partition(":")
    if Path(spec).expanduser().exists() or (sep and Path(rest).expanduser().exists()):
        return None
    try:
        if kind == "vqgan":
            return registry.entry("vqgan", name).get("weights") if not sep else None
        if not sep or rest == "random":
            return None
        entry = weights.find_clip_entry(name.replace("/", "-"), rest)
        return entry.name if entry is not None else None
    except Exception:
        return None


def detect(device: str, max_pixels: int | None = None) -> Capabilities:
    """This machine's capabilities for a worker on `device` ("auto", "cuda:1", ...)."""
    from generator import registry, weights
    from generator.common.device import resolve_device

    resolved = resolve_device(device)
    memory_mb = None
    if resolved.type == "cuda":
        import torch

        index = resolved.index if resolved.index is not None else torch.cuda.current_device()
        memory_mb = int(torch.cuda.get_device_properties(index).total_memory // 2**20)
    elif hasattr(os, "sysconf"):
        try:
            memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)
        except (ValueError, OSError):
            memory_mb = None
    if max_pixels is None and resolved.type == "cuda" and memory_mb:
        max_pixels = memory_mb * 2**20 // BYTES_PER_PIXEL
    on_disk = []
    for name in registry.names("weights"):
        try:
            if (weights.weights_dir() / weights.get_entry(name).file().filename).is_file():
                on_disk.append(name)
        except Exception:  # an entry without a checkpoint file: not a model to run
            continue
    where = str(resolved) if resolved.index is not None or resolved.type != "cuda" else "cuda:0"
    return Capabilities(device=where, memory_mb=memory_mb, max_pixels=max_pixels, models=tuple(on_disk),
                        downloads=not weights.is_offline())
