"""The aesthetic scorer: a CLIP image tower and a head, and the checkpoint it saves itself as.

A checkpoint is a folder with `scorer.safetensors` (the weights) and `scorer.json` (format, tower config, head kind and
config, name, version, meta, and the weights' sha256); `curation.scorer.checkpoint` loads it back strictly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from curation.embeddings import pil_to_tensor
from curation.scorer.errors import ScorerError
from curation.scorer.heads import DistributionHead, HeadConfig, ScorerHead
from curation.scorer.ratings import N_BINS
from curation.scorer.tower import ClipImageTower, TowerConfig, build_tower
from generator.common.files import atomic_path, sha256_file, write_json_atomic

CHECKPOINT_FORMAT = "dstrtd.aesthetic-scorer"
CHECKPOINT_VERSION = 1
WEIGHTS_FILE = "scorer.safetensors"
CONFIG_FILE = "scorer.json"


class AestheticScorer(nn.Module):
    """CLIP image tower + head. `forward(images)` -> (B, 10) probabilities over 1..10; `score(images)` -> (B,).

    Images are (B, 3, H, W) in [0, 1] at any size; the tower resizes and normalises them. Both calls keep the graph
    (wrap them in `torch.no_grad()` to score, leave them as they are to use the scorer as a loss).
    """

    def __init__(self, tower: ClipImageTower, head: ScorerHead, name: str = "scorer",
                 version: str = "0", meta: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(head, nn.Module):
            raise TypeError(f"a scorer head is an nn.Module, got {type(head).__name__}")
        if head.in_dim != tower.embed_dim:
            raise ScorerError(f"head reads {head.in_dim}-d embeddings but tower {tower.config.model} gives "
                              f"{tower.embed_dim}-d")
        self.tower = tower
        self.head: ScorerHead = head
        self.name = name
        self.version = version
        self.meta: dict[str, Any] = dict(meta or {})

    @property
    def image_size(self) -> int:
        return self.tower.image_size

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised CLIP embeddings (B, D) of images (B, 3, H, W) in [0, 1]."""
        return self.tower(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Mean rating (B,) in [1, 10] of images (B, 3, H, W) in [0, 1]."""
        return self.head.score(self.embed(images))

    def forward_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head(embeddings)

    def score_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head.score(embeddings)

    @torch.no_grad()
    def score_images(self, images: Sequence[Any], batch_size: int = 16) -> torch.Tensor:
        """Scores (N,) of PIL images of any sizes, in batches, without gradients; each image is seen as the gallery
        shows it (`curation.embeddings.pil_to_tensor`: EXIF orientation, transparency on the display background)."""
        from PIL import Image

        device = next(self.parameters()).device
        out = []
        size = self.image_size
        for start in range(0, len(images), batch_size):
            batch = []
            for img in images[start:start + batch_size]:
                if not isinstance(img, Image.Image):
                    raise TypeError(f"score_images takes PIL images, got {type(img).__name__}")
                batch.append(pil_to_tensor(img, size))
            out.append(self.score(torch.stack(batch).to(device)).cpu())
        return torch.cat(out) if out else torch.empty(0)

    def config_dict(self) -> dict[str, Any]:
        """What `scorer.json` holds besides the weights' checksum."""
        return {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "name": self.name,
                "version": self.version, "bins": list(range(1, N_BINS + 1)), "tower": self.tower.config.to_dict(),
                "head": {"type": self.head.kind, **self.head.config_dict()}, "meta": self.meta}

    def save(self, folder: str | Path) -> Path:
        """Write `scorer.safetensors` + `scorer.json` into `folder` (atomically per file); returns the folder."""
        from safetensors.torch import save_file

        folder = Path(folder)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_path(folder / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"format": CHECKPOINT_FORMAT, "name": self.name})
        config = self.config_dict()
        config["weights_sha256"] = sha256_file(folder / WEIGHTS_FILE)
        write_json_atomic(folder / CONFIG_FILE, config)
        return folder


def build_scorer(tower: str | TowerConfig = "tiny", head: HeadConfig | None = None, *, load_pretrained: bool = True,
                 name: str = "scorer", version: str = "0", device: torch.device | str = "cpu") -> AestheticScorer:
    """A new scorer with a fresh `DistributionHead` (default: linear on the tower's embedding)."""
    built = build_tower(tower, load_pretrained=load_pretrained)
    head_cfg = head or HeadConfig(in_dim=built.embed_dim)
    if head_cfg.in_dim != built.embed_dim:
        head_cfg = replace(head_cfg, in_dim=built.embed_dim)
    return AestheticScorer(built, DistributionHead(head_cfg), name=name, version=version).to(device)
