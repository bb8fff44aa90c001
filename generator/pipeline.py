"""The VQGAN+CLIP generator's front: check a config, load its models, `generate` steps, `run` them into a `Result`.

`generate(config)` yields the steps of `generator.loop` (pure: no files, no prints); `run` collects the final image,
the loss trace, frames and the metadata that travels with a piece (settings, model names, weight checksums,
versions). `Models` holds a VQGAN and perceptors on a device, to reuse across pieces with the same models.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import torch
from PIL import Image

from generator.common.device import resolve_device
from generator.config import GenerateConfig
from generator.errors import GeneratorError
from generator.loop import Step, optimise, read_image, resolve_precision
from generator.memory import check_memory
from generator.perceptors import Perceptor, load_perceptor, split_weight
from generator.prompts import parse_prompt
from generator.vqgan import VQGAN, load_vqgan


@dataclass
class Result:
    image: Image.Image
    trace: list[dict[str, float]]  # per step: step, loss, lr and each named loss term
    metadata: dict[str, Any]
    frames: list[Image.Image] = field(default_factory=list)
    frame_steps: list[int] = field(default_factory=list)


@dataclass
class Models:
    """A VQGAN and the perceptors of a config on one device; reuse it across pieces with the same models."""

    vqgan: VQGAN
    vqgan_spec: str
    vqgan_sha256: str
    perceptors: dict[str, Perceptor]  # by name without "@weight"
    device: torch.device

    def weights_sha256(self) -> dict[str, str]:
        return {self.vqgan_spec: self.vqgan_sha256, **{n: p.sha256 for n, p in self.perceptors.items()}}


# --- setup --------------------------------------------------------------------------------------------------------

def check(config: GenerateConfig) -> GenerateConfig:
    """Resolve the preset and check what can be checked before loading models: the memory a step needs against the
    device's (`generator.memory`), the image files. (The size fits a registered VQGAN's cells since the config was
    made; a bare checkpoint path's once it is read.)"""
    cfg = config.resolved()
    check_memory(cfg, resolve_device(cfg.device))
    if cfg.init_image:
        read_image(cfg.init_image, "init image")
    for spec in cfg.image_prompts:
        read_image(parse_prompt(spec, "image prompt").text, "image prompt")
    return cfg


def load_models(config: GenerateConfig, progress: Callable[[int, int | None, str], None] | None = None) -> Models:
    """Load the VQGAN and perceptors of `config` (its preset resolved) onto its device, frozen, in eval mode.

    `progress(done_bytes, total_bytes, filename)` is called while weights download.
    """
    cfg = config.resolved()
    device = resolve_device(cfg.device)
    vqgan, _, sha = load_vqgan(cfg.vqgan, device, progress=progress)
    perceptors: dict[str, Perceptor] = {}
    for spec in cfg.perceptors:
        name, _ = split_weight(spec)
        if name not in perceptors:
            perceptors[name] = load_perceptor(name, device, progress=progress)
    return assemble_models(vqgan, cfg.vqgan, sha, perceptors, device, compile=cfg.compile)


def assemble_models(vqgan: VQGAN, vqgan_spec: str, vqgan_sha256: str, perceptors: dict[str, Perceptor],
                    device: torch.device, compile: bool = False) -> Models:
    """`Models` from modules already on `device` (benchmarks build random ones): frozen, NHWC on CUDA, compiled
    if asked."""
    vqgan.eval().requires_grad_(False)
    if device.type == "cuda":
        vqgan.to(memory_format=torch.channels_last)  # why: cuDNN's fast conv kernels want NHWC
    if compile:
        vqgan.decoder = torch.compile(vqgan.decoder)
        for p in perceptors.values():
            p.model.visual = torch.compile(p.model.visual)
    return Models(vqgan, vqgan_spec, vqgan_sha256, perceptors, device)


# --- the loop -----------------------------------------------------------------------------------------------------

def generate(config: GenerateConfig, models: Models | None = None) -> Iterator[Step]:
    """Yield `config.steps` steps (fewer if `auto_stop` ends a plateau). Pure: no files, no prints.

    Raises `GeneratorError` for bad input, `NonFiniteLoss` when the loss turns NaN/inf; CUDA OOM is left as is.
    """
    cfg = check(config)
    return _steps(cfg, models if models is not None else load_models(cfg))


def _steps(cfg: GenerateConfig, models: Models) -> Iterator[Step]:
    _check_models(cfg, models)
    yield from optimise(cfg, models.vqgan, models.perceptors, models.device)


def run(config: GenerateConfig, models: Models | None = None,
        on_step: Callable[[Step], None] | None = None) -> Result:
    """Run `generate` to the end and collect the final image, the loss trace, frames and metadata."""
    start = time.perf_counter()
    cfg = check(config)
    models = models if models is not None else load_models(cfg)
    trace: list[dict[str, float]] = []
    frames: list[Image.Image] = []
    frame_steps: list[int] = []
    final: Step | None = None
    for step in _steps(cfg, models):
        trace.append({"step": step.index, "loss": step.loss, "lr": step.lr, **step.losses})
        if step.image is not None and (cfg.save_every or not step.last):
            frames.append(to_pil(step.image))
            frame_steps.append(step.index)
        if step.last:
            final = step
        if on_step is not None:
            on_step(step)
    assert final is not None and final.image is not None
    image = frames[-1] if frames and frame_steps[-1] == final.index else to_pil(final.image)
    dtype = resolve_precision(cfg.precision, models.device)
    metadata = {
        **cfg.to_dict(),
        "models": {"vqgan": cfg.vqgan, "perceptors": list(cfg.perceptors)},
        "weights_sha256": models.weights_sha256(),
        "loss_terms": _legend(cfg),
        "steps_done": final.index + 1,
        "stopped_early": final.index + 1 < cfg.steps,
        "final_loss": final.loss,
        "frame_steps": frame_steps,
        "device": str(models.device),
        "precision": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32"),
        "versions": versions(),
        "seconds": round(time.perf_counter() - start, 3),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return Result(image=image, trace=trace, metadata=metadata, frames=frames, frame_steps=frame_steps)


# --- helpers ------------------------------------------------------------------------------------------------------

def _check_models(cfg: GenerateConfig, models: Models) -> None:
    if models.vqgan_spec != cfg.vqgan:
        raise GeneratorError(f"the models were loaded for VQGAN {models.vqgan_spec!r} but the config asks for "
                             f"{cfg.vqgan!r}; load_models(config) again")
    missing = [n for n, _ in map(split_weight, cfg.perceptors) if n not in models.perceptors]
    if missing:
        raise GeneratorError(f"the models lack perceptor(s) {', '.join(missing)}; load_models(config) again")


def _legend(cfg: GenerateConfig) -> dict[str, str]:
    legend = {f"text{j}": p for j, p in enumerate(cfg.prompts)}
    legend.update({f"image{j}": p for j, p in enumerate(cfg.image_prompts)})
    legend.update({f"noise{j}": p for j, p in enumerate(cfg.noise_prompts)})
    if cfg.init_weight:
        legend["init"] = f"MSE to the init image's latent x {cfg.init_weight}/2"
    return legend


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    if image.dim() == 4:
        image = image[0]
    array = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("dstrtd", "torch", "open-clip-torch", "kornia", "taming-transformers-rom1504"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out
