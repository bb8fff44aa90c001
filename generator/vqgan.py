"""VQGAN as our own `nn.Module` over `taming.modules`, with upstream attribute names so real checkpoints load strictly.

`taming.models.vqgan` imports its Lightning training code (broken on Lightning 2.x), so only the building blocks are
used: `Encoder`/`Decoder` and the quantizers. A state dict of upstream `VQModel`/`GumbelVQ` minus its `loss.*` keys
(the discriminator and LPIPS of training) loads into `VQGAN` with `strict=True`.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from generator.errors import GeneratorError
from generator.vqgan_config import DDConfig, VQGANConfig, get_config, list_configs

__all__ = ["VQGAN", "DDConfig", "VQGANConfig", "build_vqgan", "get_config", "infer_config", "list_configs",
           "load_vqgan", "state_dict_signature"]

log = logging.getLogger(__name__)


class VQGAN(nn.Module):
    """Encoder, quantizer and decoder of taming's VQModel/GumbelVQ (no loss, no Lightning).

    Images are (B, 3, H, W) in [-1, 1]; latents are (B, embed_dim, H / f, W / f).
    """

    def __init__(self, config: VQGANConfig) -> None:
        super().__init__()
        from taming.modules.diffusionmodules.model import Decoder, Encoder
        from taming.modules.vqvae.quantize import GumbelQuantize, VectorQuantizer2

        self.config = config
        dd = asdict(config.ddconfig)
        with contextlib.redirect_stdout(io.StringIO()):  # taming's Decoder prints the latent shape
            self.encoder = Encoder(**dd)
            self.decoder = Decoder(**dd)
        z_channels = config.ddconfig.z_channels
        if config.quantizer == "vq":
            self.quantize = VectorQuantizer2(config.n_embed, config.embed_dim, beta=0.25)
        elif config.quantizer == "gumbel":
            self.quantize = GumbelQuantize(z_channels, config.embed_dim, n_embed=config.n_embed,
                                           kl_weight=config.kl_weight, temp_init=1.0)
        else:
            raise GeneratorError(f"VQGAN config {config.name!r}: quantizer must be 'vq' or 'gumbel', "
                                 f"not {config.quantizer!r}")
        self.quant_conv = nn.Conv2d(z_channels, config.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(config.embed_dim, z_channels, 1)

    @property
    def codebook(self) -> torch.Tensor:
        """(n_embed, embed_dim) code vectors."""
        return self.quantize.embed.weight if self.config.quantizer == "gumbel" else self.quantize.embedding.weight

    @property
    def factor(self) -> int:
        return self.config.factor

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image (B, 3, H, W) in [-1, 1] -> quantized latent (B, embed_dim, H/f, W/f)."""
        z_q, _, _ = self.quantize(self.quant_conv(self.encoder(x)))
        return z_q

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Quantized latent -> image in about [-1, 1] (not clamped)."""
        return self.decoder(self.post_quant_conv(z_q))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def build_vqgan(config: VQGANConfig | str, device: torch.device | str = "cpu", seed: int | None = 0) -> VQGAN:
    """A VQGAN with random weights (`seed` fixes them, so the tiny model is the same everywhere; None = global RNG).

    `device="meta"` builds the shapes only, without memory: enough to count parameters or check a state dict.
    """
    if isinstance(config, str):
        config = get_config(config)
    device = torch.device(device)
    if device.type == "meta" or seed is None:
        with torch.device(device):
            return VQGAN(config).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VQGAN(config)
        if config.codebook_std is not None:
            nn.init.normal_(model.codebook, std=config.codebook_std)
    return model.eval().to(device)


def state_dict_signature(state_dict: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def infer_config(state_dict: dict[str, torch.Tensor]) -> VQGANConfig:
    """The registered config whose parameter names and shapes equal those of `state_dict` (used for bare paths)."""
    wanted = state_dict_signature(state_dict)
    for name in list_configs():
        config = get_config(name)
        if state_dict_signature(build_vqgan(config, "meta").state_dict()) == wanted:
            return config
    raise GeneratorError(
        f"the checkpoint's {len(wanted)} tensors match none of the VQGAN configs ({', '.join(list_configs())}); "
        "name the config explicitly: --vqgan CONFIG:PATH")


def load_vqgan(spec: str, device: torch.device | str = "cpu",
               progress: Any = None) -> tuple[VQGAN, str, str]:
    """Build and load a VQGAN from `spec`; returns (model in eval mode, resolved name, weights sha256).

    `spec` is a registered config name (its weights come from the registry: cache, else download), `NAME:PATH`
    (a config with a local checkpoint), or a bare checkpoint path (the config is inferred from its shapes).
    Configs without weights (`tiny`) get seeded random weights and the sha256 of those.
    """
    from generator import checkpoints, weights

    name, path = _split_spec(spec)
    if path is None and name is not None:
        config = get_config(name)
        if config.weights is None:
            model = build_vqgan(config, device)
            return model, name, weights.tensors_sha256(model.state_dict())
        path = weights.fetch(config.weights, progress=progress)
    assert path is not None
    state_dict, sha = checkpoints.load_vqgan_state_dict(path)
    config = get_config(name) if name is not None else infer_config(state_dict)
    with torch.device("meta"):
        model = VQGAN(config)
    try:
        model.load_state_dict(state_dict, strict=True, assign=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:400]
        raise GeneratorError(f"checkpoint {path} does not fit VQGAN config {config.name!r}: {detail}") from exc
    log.info("loaded VQGAN %s from %s (sha256 %s)", config.name, path, sha[:12])
    return model.eval().to(device), config.name, sha


def _split_spec(spec: str) -> tuple[str | None, Path | None]:
    known = set(list_configs())
    if spec in known:
        return spec, None
    head, sep, tail = spec.partition(":")
    if sep and head in known:
        return head, _existing(Path(tail).expanduser(), spec)
    path = Path(spec).expanduser()
    if path.exists():
        return None, _existing(path, spec)
    raise GeneratorError(f"unknown VQGAN {spec!r}: use a config name ({', '.join(sorted(known))}), "
                         "CONFIG:PATH or a checkpoint path")


def _existing(path: Path, spec: str) -> Path:
    if not path.is_file():
        raise GeneratorError(f"VQGAN checkpoint {str(path)!r} (from {spec!r}) is not a file")
    return path
