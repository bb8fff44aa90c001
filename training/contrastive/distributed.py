"""Data-parallel training under `torchrun`: process-group set-up and gathering the global batch.

Every rank gathers the image and text features of all ranks and computes the loss of the whole global batch;
gradients flow only into its own slice. DDP then averages the ranks' gradients, each of which holds the part of
the global gradient that flows through that rank's features, so the trainer multiplies the loss by the world
size before `backward()`: the averaged gradient then equals the single-process gradient of the same global batch.
Per-sample loss state is indexed by the gathered (global) dataset indices, so every rank updates the same rows
the same way and the state stays identical everywhere.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from generator.common.device import resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def rank_device(name: str, info: DistInfo) -> torch.device:
    """The device of this rank: `resolve_device`'s choice, where a bare "cuda" (or "auto" on a GPU machine) means
    the GPU of this rank's LOCAL_RANK."""
    device = resolve_device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", info.local_rank)
    return device


def init_distributed(device_type: str = "cpu") -> DistInfo:
    """Join the process group `torchrun` describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*);
    a plain single process gets `DistInfo()`. NCCL on CUDA, gloo otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        log.info("rank %d of %d joined the %s process group", rank, world, backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank)


def current() -> DistInfo:
    """The process group already joined (by torchrun + `init_distributed`, or a test), else a single process."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                        local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def gather_features(x: Tensor, info: DistInfo) -> Tensor:
    """(B_local, D) -> (B_local * W, D) in rank order; the gradient flows into this rank's slice only."""
    if not info.enabled:
        return x
    parts = [torch.empty_like(x) for _ in range(info.world_size)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[info.rank] = x
    return torch.cat(parts)


def gather_index(index: Tensor, info: DistInfo) -> Tensor:
    """The dataset indices of the global batch, in the same rank order as `gather_features`."""
    if not info.enabled:
        return index
    parts = [torch.empty_like(index) for _ in range(info.world_size)]
    dist.all_gather(parts, index.contiguous())
    return torch.cat(parts)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
