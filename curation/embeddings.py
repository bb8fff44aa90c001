"""Image and text embeddings for the curators: one contrastive encoder, batched, with an on-disk cache.

`load_encoder(spec)` takes what `generator.perceptors.load_perceptor` takes: "tiny" (a small random CLIP for tests
and the offline demo), an open_clip `MODEL:PRETRAINED` name (`MODEL:random` for random weights; nothing is
downloaded unless a tag asks for it), a local weights file, or a folder exported by `training.contrastive`.
Images go in as (B, 3, H, W) in [0, 1]; the encoder resizes (shorter side, centre crop) and normalises.
Embeddings come out L2-normalised, float32, on the CPU.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from generator.common.device import resolve_device
from generator.common.errors import UnreadableImage
from generator.common.files import atomic_path
from generator.common.images import DISPLAY_BACKGROUND, open_rgb, to_rgb

log = logging.getLogger(__name__)


class Encoder(Protocol):
    name: str
    version: str
    input_resolution: int

    def encode_images(self, images: Tensor) -> Tensor: ...

    def encode_texts(self, texts: Sequence[str]) -> Tensor: ...


def resize_normalize(images: Tensor, resolution: int, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 3, r, r), resized (shorter side, then centre crop) and normalised."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W) in [0, 1], got shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if (h, w) != (resolution, resolution):
        scale = resolution / min(h, w)
        nh, nw = max(resolution, round(h * scale)), max(resolution, round(w * scale))
        images = F.interpolate(images, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
        top, left = (nh - resolution) // 2, (nw - resolution) // 2
        images = images[..., top:top + resolution, left:left + resolution]
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images.clamp(0, 1) - m) / s


def _normalize_rows(x: Tensor) -> Tensor:
    x = x.detach().float().cpu()
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class PerceptorEncoder:
    """A `generator.perceptors` perceptor as an `Encoder` (the generator's CLIP, shared with curation)."""

    def __init__(self, perceptor: Any, *, name: str) -> None:
        self.perceptor = perceptor
        self.name = str(getattr(perceptor, "name", name))
        version = str(getattr(perceptor, "version", "") or getattr(perceptor, "sha256", "") or "")
        self.version = version[:12] if re.fullmatch(r"[0-9a-f]{64}", version) else version  # a weights checksum
        self.input_resolution = int(getattr(perceptor, "input_resolution", 224))
        normalize = getattr(perceptor, "preprocess_normalize", None)
        self._normalize = normalize
        param = next(iter(perceptor.parameters()), None) if hasattr(perceptor, "parameters") else None
        self.device = param.device if param is not None else torch.device("cpu")
        if hasattr(perceptor, "eval"):
            perceptor.eval()

    @torch.inference_mode()
    def encode_images(self, images: Tensor) -> Tensor:
        x = images.to(self.device, torch.float32).clamp(0, 1)
        r = self.input_resolution
        if tuple(x.shape[-2:]) != (r, r):
            x = resize_normalize(x, r, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        if self._normalize is not None:
            x = self._normalize(x)
        return _normalize_rows(self.perceptor.encode_image(x))

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        return _normalize_rows(self.perceptor.encode_text(list(texts)))


def load_encoder(spec: str = "tiny", device: str | torch.device | None = "cpu") -> Encoder:
    """An image-text encoder by name or path: whatever `generator.perceptors.load_perceptor` accepts ("tiny",
    `MODEL:PRETRAINED`, `MODEL:random`, `MODEL:/path`, a `local-dir` folder such as a trained
    `training.contrastive` export). Loads no weights it was not asked for."""
    from generator.perceptors import load_perceptor

    return PerceptorEncoder(load_perceptor(spec, resolve_device(device)), name=spec)


# -- images ---------------------------------------------------------------------------------------------------------

def _fit(rgb: Image.Image, size: int | None, resize: str, background: tuple[int, int, int]) -> Tensor:
    if resize not in ("crop", "pad"):
        raise ValueError(f"resize must be 'crop' or 'pad', not {resize!r}")
    if size is not None:
        w, h = rgb.size
        if resize == "pad":
            side = max(w, h)
            square = Image.new("RGB", (side, side), background)
            square.paste(rgb, ((side - w) // 2, (side - h) // 2))
            rgb = square.resize((size, size), Image.Resampling.BICUBIC)
        else:
            scale = size / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            rgb = rgb.resize((nw, nh), Image.Resampling.BICUBIC)
            left, top = (nw - size) // 2, (nh - size) // 2
            rgb = rgb.crop((left, top, left + size, top + size))
    arr = np.asarray(rgb, dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def pil_to_tensor(img: Image.Image, size: int | None = None, *,
                  background: tuple[int, int, int] = DISPLAY_BACKGROUND, resize: str = "crop") -> Tensor:
    """A decoded PIL image -> (3, H, W) float in [0, 1], its pixels as the gallery shows them (`to_rgb`: EXIF
    orientation applied, transparency laid on `background`). With `size`, fitted to a size x size square: "crop"
    resizes the shorter side and crops the centre, "pad" letterboxes the whole picture on `background`."""
    return _fit(to_rgb(img, background), size, resize, background)


def load_image(path: str | os.PathLike[str], resolution: int,
               background: tuple[int, int, int] = DISPLAY_BACKGROUND, resize: str = "crop") -> Tensor:
    """(3, r, r) float in [0, 1] of the image file at `path`, decoded as the gallery decodes it
    (`generator.common.images.open_rgb`) and fitted as `pil_to_tensor` fits; `UnreadableImage` names the file."""
    try:
        decoded = open_rgb(path, background=background)
    except UnreadableImage as exc:
        raise UnreadableImage(f"cannot read image {path}: {exc}") from None
    return _fit(decoded.image, resolution, resize, background)


def load_images(paths: Iterable[str | os.PathLike[str]], resolution: int) -> Tensor:
    """(B, 3, r, r) in [0, 1]."""
    tensors = [load_image(p, resolution) for p in paths]
    return torch.stack(tensors) if tensors else torch.zeros(0, 3, resolution, resolution)


# -- cache ----------------------------------------------------------------------------------------------------------

def encoder_key(encoder: Encoder) -> str:
    text = f"{encoder.name}-{encoder.version}".lower()
    return re.sub(r"[^a-z0-9._-]+", "-", text).strip("-")[:80] or "encoder"


class EmbeddingCache:
    """Image embeddings on disk, one `.npy` per (encoder, image sha256); each file written atomically.

    Several workers may share it: a file is either absent or complete, and two writers of one key write the same.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-zA-Z_-]+", key):
            raise ValueError(f"cache keys are plain names (e.g. a sha256), got {key!r}")
        return self.folder / f"{key}.npy"

    def get(self, key: str) -> Tensor | None:
        path = self._path(key)
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False))
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as exc:
            log.warning("ignoring unreadable cached embedding %s (%s)", path, exc)
            return None

    def put(self, key: str, value: Tensor) -> None:
        with atomic_path(self._path(key)) as tmp:
            np.save(tmp, value.detach().float().cpu().numpy(), allow_pickle=False)
