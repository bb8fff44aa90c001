"""VQGAN architectures as torch-free configs (`generator/registry/vqgan/`), so a size is checked against a VQGAN's
cell before anything is built: by `GenerateConfig` itself, hence by `dstrtd generate` and `dstrtd queue` alike.
`generator.vqgan` builds the modules from these configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from generator import registry
from generator.errors import GeneratorError


@dataclass(frozen=True)
class DDConfig:
    """Encoder/decoder shape, named as in upstream `ddconfig`."""

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)  # len - 1 halvings: f = 2 ** (len(ch_mult) - 1)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.0
    in_channels: int = 3
    out_ch: int = 3
    resolution: int = 256  # training resolution; only decides where attention sits, any multiple of f works
    z_channels: int = 256
    double_z: bool = False


@dataclass(frozen=True)
class VQGANConfig:
    name: str
    embed_dim: int
    n_embed: int
    ddconfig: DDConfig = field(default_factory=DDConfig)
    quantizer: Literal["vq", "gumbel"] = "vq"
    kl_weight: float = 5e-4  # gumbel only; kept for the upstream signature, unused when generating
    weights: str | None = None  # name in the weights registry; None = random weights only
    # Random builds only: codes drawn from N(0, std) instead of upstream's U(-1/n, 1/n), whose spread is so small
    # that an untrained model's image hardly changes when z moves. None keeps upstream's init.
    codebook_std: float | None = None
    description: str = ""

    @property
    def factor(self) -> int:
        """Pixels per latent cell along each side."""
        return 2 ** (len(self.ddconfig.ch_mult) - 1)

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> VQGANConfig:
        data = dict(data)
        dd = dict(data.pop("ddconfig", {}))
        for key in ("ch_mult", "attn_resolutions"):
            if key in dd:
                dd[key] = tuple(dd[key])
        try:
            return cls(name=name, ddconfig=DDConfig(**dd), **data)
        except TypeError as exc:
            raise GeneratorError(f"VQGAN config {name!r} is malformed: {exc}") from exc


def list_configs() -> list[str]:
    return registry.names("vqgan")


def get_config(name: str) -> VQGANConfig:
    """A registered VQGAN config by name (see `generator/registry/vqgan/`)."""
    return VQGANConfig.from_dict(name, registry.entry("vqgan", name))


def check_size(size: tuple[int, int], factor: int, why: str = "the VQGAN's cell") -> None:
    """Raise, with the nearest size that fits, unless both sides of `size` (W, H) are multiples of `factor`."""
    w, h = size
    if w % factor or h % factor:
        fit = [max(factor, round(v / factor) * factor) for v in (w, h)]
        raise GeneratorError(f"size {w}x{h} is not a multiple of {factor} ({why}); use e.g. {fit[0]}x{fit[1]}")


def named_config(vqgan: str) -> VQGANConfig | None:
    """The registered config behind a VQGAN spec (NAME or NAME:PATH); None for a bare checkpoint path, whose
    architecture is known only once it is read."""
    name = vqgan.partition(":")[0]
    return get_config(name) if name in list_configs() else None
