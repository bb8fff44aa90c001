"""The VQGAN+CLIP loop: `generate` yields steps, `run` collects them into a `Result`. No files, no prints.

Each step decodes the latent z (snapped to its nearest codes, straight-through), cuts the image into augmented
views per perceptor, embeds them and sums the spherical distances to the prompts' embeddings; Adam (or another
optimiser) moves z, which is then clamped to the codebook's range. Randomness (initial codes, cutouts,
augmentations) comes from a stream seeded by `config.seed` and kept apart from torch's global one, so the same seed,
settings and device give the same image, bitwise on CPU, whatever the caller draws between steps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from generator.common.device import resolve_device
from generator.config import GenerateConfig
from generator.cutouts import Cutouts
from generator.errors import GeneratorError, NonFiniteLoss
from generator.losses import PromptLoss
from generator.ops import clamp_with_grad, vector_quantize
from generator.perceptors import Perceptor, load_perceptor, split_weight
from generator.prompts import PromptSpec, parse_noise_prompt, parse_prompt, parse_schedule, prompts_at
from generator.vqgan import VQGAN, get_config, list_configs, load_vqgan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One optimisation step. `image` (1, 3, H, W) in [0, 1] on the CPU is the image this step's loss judged;
    it is set on the last step and every `save_every` steps (from step 0), else None."""

    index: int
    loss: float
    losses: dict[str, float]
    image: torch.Tensor | None
    lr: float = 0.0
    last: bool = False


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

def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32. Half precision only on CUDA (bf16 on CPU is >300x slower)."""
    if device.type != "cuda":
        if precision in ("fp16", "bf16"):
            raise GeneratorError(f"precision {precision} is only offered on CUDA, not on {device.type}; use fp32")
        return None
    if precision == "auto":
        # why including_emulation=False: pre-Ampere GPUs (T4, V100) only emulate bf16, far slower than fp16
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    return {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def check(config: GenerateConfig) -> GenerateConfig:
    """Resolve the preset and check what can be checked before loading models (sizes, image files)."""
    cfg = config.resolved()
    name = cfg.vqgan.partition(":")[0]  # NAME or NAME:PATH; a bare path is checked once its config is known
    if name in list_configs():
        f = get_config(name).factor
        w, h = cfg.size
        if w % f or h % f:
            raise GeneratorError(f"size {w}x{h} is not a multiple of {f} (VQGAN {name!r} works in {f}-pixel "
                                 f"cells); use e.g. {_round(w, f)}x{_round(h, f)}")
    if cfg.init_image:
        _check_image(cfg.init_image, "init image")
    for spec in cfg.image_prompts:
        _check_image(parse_prompt(spec, "image prompt").text, "image prompt")
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

class _Rng:
    """The loop's own random stream: kornia draws from torch's global generators, so each use swaps our state in
    and the caller's back out."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.cpu_state = torch.Generator().manual_seed(seed).get_state()
        self.dev_state = torch.Generator(device=device).manual_seed(seed).get_state() if self.cuda else None
        if device.type == "mps":
            torch.mps.manual_seed(seed)  # MPS has no forkable state; seeded once, not isolated

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with torch.random.fork_rng(devices=[self.device] if self.cuda else []):
            torch.set_rng_state(self.cpu_state)
            if self.cuda:
                torch.cuda.set_rng_state(self.dev_state, self.device)
            try:
                yield
            finally:
                self.cpu_state = torch.get_rng_state()
                if self.cuda:
                    self.dev_state = torch.cuda.get_rng_state(self.device)


class _Plateau:
    """A plateau: `patience` steps in which an EMA of the loss did not beat its best by `min_delta`."""

    def __init__(self, patience: int, min_delta: float, beta: float = 0.9) -> None:
        self.patience, self.min_delta, self.beta = patience, min_delta, beta
        self.ema: float | None = None
        self.best = math.inf
        self.since = 0

    def update(self, loss: float) -> bool:
        self.ema = loss if self.ema is None else self.beta * self.ema + (1 - self.beta) * loss
        if self.ema < self.best - self.min_delta:
            self.best, self.since = self.ema, 0
        else:
            self.since += 1
        return self.since >= self.patience

    def reset(self) -> None:
        self.since = 0
        self.best = self.ema if self.ema is not None else math.inf


@dataclass
class _Head:
    """One perceptor's part of the loss: its cutouts and the prompt losses in its embedding space."""

    perceptor: Perceptor
    weight: float
    cutouts: Cutouts
    fixed: dict[str, PromptLoss]  # image and noise prompts
    text: dict[str, PromptLoss] = field(default_factory=dict)
    text_cache: dict[str, torch.Tensor] = field(default_factory=dict)

    def set_text(self, specs: tuple[PromptSpec, ...]) -> None:
        missing = [s.text for s in specs if s.text not in self.text_cache]
        if missing:
            with torch.no_grad():
                embeds = self.perceptor.encode_text(missing)
            self.text_cache.update(zip(missing, embeds[:, None, :], strict=True))
        self.text = {f"text{j}": PromptLoss(self.text_cache[s.text], s.weight, s.stop).to(self.perceptor.device)
                     for j, s in enumerate(specs)}


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax,
    "adagrad": torch.optim.Adagrad, "radam": torch.optim.RAdam, "nadam": torch.optim.NAdam,
    "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD,
}


def generate(config: GenerateConfig, models: Models | None = None) -> Iterator[Step]:
    """Yield `config.steps` steps (fewer if `auto_stop` ends a plateau). Pure: no files, no prints.

    Raises `GeneratorError` for bad input, `NonFiniteLoss` when the loss turns NaN/inf; CUDA OOM is left as is.
    """
    cfg = check(config)
    return _steps(cfg, models if models is not None else load_models(cfg))


def _steps(cfg: GenerateConfig, models: Models) -> Iterator[Step]:
    """The loop of `generate` for a config that `check` has passed."""
    _check_models(cfg, models)
    device, vq = models.device, models.vqgan
    dtype = resolve_precision(cfg.precision, device)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    w, h = cfg.size
    f = vq.factor
    if w % f or h % f:
        raise GeneratorError(f"size {w}x{h} is not a multiple of {f} (the VQGAN's cell); use e.g. "
                             f"{_round(w, f)}x{_round(h, f)}")
    rng = _Rng(cfg.seed, device)
    codebook = vq.codebook.detach().float()
    z_min = codebook.min(0).values[None, :, None, None]
    z_max = codebook.max(0).values[None, :, None, None]
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format

    with rng.active(), torch.no_grad():
        if cfg.init_image:
            z = vq.encode(load_image(cfg.init_image, cfg.size, device).mul(2).sub(1)).float()
        else:
            idx = torch.randint(codebook.shape[0], (h // f * (w // f),), device=device)
            z = codebook[idx].view(1, h // f, w // f, -1).permute(0, 3, 1, 2)
        z_orig = z.clone()
        heads = [_make_head(cfg, models.perceptors[name], weight, device)
                 for name, weight in map(split_weight, cfg.perceptors)]
    z = z.contiguous().requires_grad_(True)
    opt = OPTIMIZERS[cfg.optimizer]([z], lr=cfg.lr)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    base = tuple(parse_prompt(p) for p in cfg.prompts)
    schedule = parse_schedule(cfg.schedule)
    plateau = _Plateau(cfg.plateau_patience, cfg.plateau_min_delta) if cfg.plateau_patience else None
    lr_dropped = False
    current: tuple[PromptSpec, ...] | None = None

    for i in range(cfg.steps):
        specs = prompts_at(i, base, schedule)
        if specs != current:
            for head in heads:
                head.set_text(specs)
            current = specs
        with rng.active():
            z_q = vector_quantize(z.movedim(1, 3), codebook).movedim(3, 1)
            with autocast():
                out = clamp_with_grad(vq.decode(z_q.contiguous(memory_format=memory_format)).float().add(1).div(2),
                                      0, 1)
            terms: dict[str, torch.Tensor] = {}
            for head in heads:
                p = head.perceptor
                # why outside autocast: kornia builds its warp grids with matmuls, which autocast would run in
                # bf16/fp16 (a pixel of error at 224 px); only the image tower runs in half precision
                cutouts = head.cutouts(out)
                with autocast():
                    embeds = p.encode_image(p.preprocess_normalize(cutouts))
                for key, loss_fn in (*head.text.items(), *head.fixed.items()):
                    term = head.weight * loss_fn(embeds.float())
                    terms[key] = terms[key] + term if key in terms else term
            if cfg.init_weight:
                terms["init"] = F.mse_loss(z, z_orig) * (cfg.init_weight / 2)
        total = torch.stack(list(terms.values())).sum()
        values = torch.stack([total.detach(), *(t.detach() for t in terms.values())]).tolist()
        if not all(math.isfinite(v) for v in values):
            raise NonFiniteLoss(f"the loss became {values[0]} at step {i} (seed {cfg.seed}); try another seed or a "
                                f"lower lr than {cfg.lr}")
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(total).backward()
            scaler.step(opt)
            scaler.update()
        else:
            total.backward()
            opt.step()
        with torch.no_grad():
            z.copy_(z.maximum(z_min).minimum(z_max))
        lr = opt.param_groups[0]["lr"]
        stop = False
        if plateau is not None and plateau.update(values[0]):
            if not lr_dropped and cfg.lr_drop < 1:
                for group in opt.param_groups:
                    group["lr"] *= cfg.lr_drop
                lr_dropped = True
                plateau.reset()
                log.info("loss plateau at step %d: learning rate %.4g -> %.4g", i, lr, lr * cfg.lr_drop)
            elif cfg.auto_stop:
                stop = True
                log.info("loss plateau at step %d: stopping early", i)
        last = stop or i == cfg.steps - 1
        keep = last or (cfg.save_every > 0 and i % cfg.save_every == 0)
        yield Step(index=i, loss=values[0], losses=dict(zip(terms, values[1:], strict=True)),
                   image=out.detach().float().cpu() if keep else None, lr=lr, last=last)
        if stop:
            return


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

def _make_head(cfg: GenerateConfig, perceptor: Perceptor, weight: float, device: torch.device) -> _Head:
    cutouts = Cutouts(perceptor.input_resolution, cfg.cutn, cfg.cut_pow, cfg.cutout_mode, cfg.augments,
                      cfg.noise_fac).to(device)
    fixed: dict[str, PromptLoss] = {}
    for j, spec in enumerate(cfg.image_prompts):
        p = parse_prompt(spec, "image prompt")
        image = load_image(p.text, cfg.size, device)
        embeds = perceptor.encode_image(perceptor.preprocess_normalize(cutouts(image)))
        fixed[f"image{j}"] = PromptLoss(embeds, p.weight, p.stop).to(device)
    for j, spec in enumerate(cfg.noise_prompts):
        seed, w = parse_noise_prompt(spec)
        embed = torch.empty([1, perceptor.embed_dim]).normal_(generator=torch.Generator().manual_seed(seed))
        fixed[f"noise{j}"] = PromptLoss(embed, w).to(device)
    return _Head(perceptor, weight, cutouts, fixed)


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


def _round(value: int, factor: int) -> int:
    return max(factor, round(value / factor) * factor)


def _check_image(path: str, what: str) -> None:
    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, ValueError, SyntaxError) as exc:
        raise GeneratorError(f"cannot read {what} {path!r} ({type(exc).__name__}: {exc}); give a PNG or JPEG "
                             "file that exists") from None


def load_image(path: str, size: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """An image file -> (1, 3, H, W) in [0, 1], centre-cropped to the aspect of `size` (W, H) and resized."""
    from PIL import ImageOps

    try:
        with Image.open(path) as im:
            im = ImageOps.fit(ImageOps.exif_transpose(im).convert("RGB"), size, Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError) as exc:
        raise GeneratorError(f"cannot read image {path!r} ({type(exc).__name__}: {exc}); give a PNG or JPEG file "
                             "that exists") from None
    t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(size[1], size[0], 3)
    return t.permute(2, 0, 1)[None].float().div(255).to(device)


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
