"""Will a piece fit in memory? Estimated before anything is built, with the largest size that would fit.

The rule (`estimate`): the sum of
- the weights of the VQGAN and of each perceptor (fp32);
- what autograd keeps for the backward pass of one step: the VQGAN decoder's saved tensors at the piece's size,
  which grow with its pixels (and with their square where the decoder has attention, at 1/16 of the side), plus
  twice its largest activation for the gradients in flight; and each perceptor's saved tensors for `cutn` cutouts;
- `RUNTIME_BYTES` for the framework itself (CUDA context or the CPU process).
The saved tensors are counted, not guessed: the models are built on torch's "meta" device (shapes only, no memory)
and one forward pass runs under a hook that adds up what autograd saves (a module's own weights, which autograd also
keeps, are counted once, with the weights). `RUNTIME_BYTES` is read off the measured peak of whole steps at 128x128
(bench/results/generator-cpu.json: process RSS, VQGAN f16 16384 + ViT-B/32, cutn 8: 2413 MB estimated, 2414 MB
measured); at 256x256 the estimate is then 3459 MB for 3530 MB measured. `python bench/generator_memory.py` prints
the comparison.

The budget (`device_memory`) is what the device has in all: a GPU's memory, else the machine's RAM (or the
container's limit when lower). A size above it can never run and is refused; a size under it may still meet memory
that other programs hold, which the studio worker answers by retrying smaller. Precision is counted as fp32, an
upper bound for bf16/fp16 autocast.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.errors import GeneratorError
from generator.vqgan_config import named_config

if TYPE_CHECKING:
    import torch

    from generator.config import GenerateConfig

log = logging.getLogger(__name__)

GB = 2**30
# why: what the counted parts leave out of a measured peak is ~0.5-0.6 GB at 128-256 px on the CPU (the process with
# torch, open_clip and kornia, the cutouts' augmentations, the optimiser); a CUDA context and the allocator's cache
# take about as much
RUNTIME_BYTES = GB
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


@dataclass(frozen=True)
class Estimate:
    """Bytes one generation step needs, by part; `total` is what is compared with the device's memory."""

    weights: int
    decoder: int  # grows with the size
    perceptors: int  # grows with cutn
    runtime: int = RUNTIME_BYTES

    @property
    def total(self) -> int:
        return self.weights + self.decoder + self.perceptors + self.runtime


def _saved_bytes(module: torch.nn.Module, forward: Callable[[], object]) -> tuple[int, int]:
    """(bytes autograd saves during `forward()`, bytes of the largest saved tensor), on meta tensors; `module`'s own
    weights, saved for the input's gradient, are counted with the weights, not here."""
    import torch

    weights = {id(p) for p in module.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        base = t if t._base is None else t._base  # a view saved beside its tensor holds no memory of its own
        if id(base) not in weights:
            saved[id(base)] = base.numel() * base.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(saved.values()), max(saved.values(), default=0)


@functools.cache
def _vqgan_on_meta(name: str) -> torch.nn.Module:
    import torch

    from generator.vqgan import VQGAN, get_config

    with torch.device("meta"):
        return VQGAN(get_config(name)).eval().requires_grad_(False)


@functools.lru_cache(maxsize=256)
def _decoder_bytes(name: str, size: tuple[int, int]) -> tuple[int, int]:
    """(weights, saved + in-flight gradient bytes) of the VQGAN `name` decoding a latent for `size` (W, H)."""
    import torch

    vqgan = _vqgan_on_meta(name)
    f = vqgan.config.factor
    z = torch.zeros(1, vqgan.config.embed_dim, size[1] // f, size[0] // f, device="meta", requires_grad=True)
    saved, largest = _saved_bytes(vqgan, lambda: vqgan.decode(z))
    weights = sum(p.numel() * p.element_size() for p in vqgan.parameters())
    return weights, saved + 2 * largest


@functools.lru_cache(maxsize=64)
def _perceptor_bytes(name: str, cutn: int) -> tuple[int, int]:
    """(weights, saved bytes for `cutn` cutouts) of a CLIP perceptor by name; (0, 0) when its architecture is only
    known once its file is read (a bare path, a folder, a hub name)."""
    import torch

    from generator.perceptors import TINY, build_random, register_clip_configs

    register_clip_configs()
    arch = name if name == TINY else name.partition(":")[0].replace("/", "-")
    if not arch or Path(name).expanduser().exists() or name.startswith(("hf-hub:", "local-dir:")):
        return 0, 0
    import open_clip

    if open_clip.get_model_config(arch) is None:
        return 0, 0
    with torch.device("meta"):
        model = build_random(arch).eval().requires_grad_(False)
    size = model.visual.image_size
    side = int(size[0] if isinstance(size, (tuple, list)) else size)
    cutouts = torch.zeros(cutn, 3, side, side, device="meta", requires_grad=True)
    saved, _ = _saved_bytes(model, lambda: model.encode_image(cutouts))
    return sum(p.numel() * p.element_size() for p in model.parameters()), saved


def estimate(cfg: GenerateConfig, size: tuple[int, int] | None = None) -> Estimate | None:
    """The memory of one step of `cfg` (its preset resolved) at `size` (default: its own); None when its VQGAN is a
    bare checkpoint path, whose architecture is known only once the file is read."""
    from generator.perceptors import split_weight

    cfg = cfg.resolved()
    vqgan = named_config(cfg.vqgan)
    if vqgan is None:
        return None
    try:
        weights, decoder = _decoder_bytes(vqgan.name, size or cfg.size)
    except (ValueError, RuntimeError) as exc:  # a size the decoder cannot take at all (its norms need 2+ cells)
        log.debug("no memory estimate for %s at %s: %s", vqgan.name, size or cfg.size, exc)
        return None
    perceptors = 0
    for name in dict.fromkeys(split_weight(p)[0] for p in cfg.perceptors):
        p_weights, p_saved = _perceptor_bytes(name, cfg.cutn)
        weights += p_weights
        perceptors += p_saved
    return Estimate(weights=weights, decoder=decoder, perceptors=perceptors)


def device_memory(device: torch.device) -> int | None:
    """Bytes `device` has in all (see the module docstring); None where torch cannot say."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    if device.type == "mps":
        recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
        if recommended is not None:
            return int(recommended())
    return machine_memory()


def machine_memory() -> int | None:
    """The machine's RAM, or the container's memory limit (cgroup) when that is lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not offered on this platform
        return None
    for path in _CGROUP_LIMITS:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def largest_size(cfg: GenerateConfig, budget: int) -> tuple[int, int] | None:
    """The largest size with the aspect of `cfg.size`, in whole VQGAN cells, whose estimate fits `budget`; None when
    not even one cell fits."""
    vqgan = named_config(cfg.resolved().vqgan)
    if vqgan is None:
        return None
    f = vqgan.factor
    w, h = cfg.size

    def at(cells: int) -> tuple[int, int]:  # `cells` along the longer side
        scale = cells * f / max(w, h)
        return max(f, int(w * scale) // f * f), max(f, int(h * scale) // f * f)

    def fits(cells: int) -> bool:
        found = estimate(cfg, at(cells))
        return found is not None and found.total <= budget

    low, high = 0, max(w, h) // f  # fits(low) is known true once low >= 1; high does not fit
    while high - low > 1:
        mid = (low + high) // 2
        if fits(mid):
            low = mid
        else:
            high = mid
    return at(low) if low >= 1 and fits(low) else None


def check_memory(cfg: GenerateConfig, device: torch.device, budget: int | None = None) -> Estimate | None:
    """Raise `GeneratorError` when one step of `cfg` needs more memory than `device` has (`budget` bytes, default:
    `device_memory`), naming the largest size that fits; returns the estimate (None when none could be made)."""
    budget = device_memory(device) if budget is None else budget
    found = estimate(cfg)
    if found is None or budget is None:
        log.debug("no memory estimate for %s on %s", cfg.vqgan, device)
        return found
    if found.total <= budget:
        return found
    w, h = cfg.size
    where = f"{device.type.upper()} memory" if device.type != "cpu" else "memory"
    fit = largest_size(cfg, budget)
    advice = (f"the largest size of this shape that fits is {fit[0]}x{fit[1]}" if fit is not None else
              f"not even the smallest size fits: lower --cutn ({cfg.cutn}) or use fewer or smaller perceptors")
    raise GeneratorError(f"size {w}x{h} needs about {found.total / GB:.1f} GB but this machine's {where} is "
                         f"{budget / GB:.1f} GB in all; {advice}")
