"""The optimisation itself: from a checked config and loaded models, one `Step` after another. No files, no prints.

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from generator.common.errors import UnreadableImage
from generator.common.images import open_rgb
from generator.config import GenerateConfig
from generator.cutouts import Cutouts
from generator.errors import GeneratorError, NonFiniteLoss
from generator.losses import PromptLoss
from generator.ops import clamp_with_grad, vector_quantize
from generator.perceptors import Perceptor, split_weight
from generator.prompts import PromptSpec, parse_noise_prompt, parse_prompt, parse_schedule, prompts_at
from generator.vqgan import VQGAN
from generator.vqgan_config import check_size

log = logging.getLogger(__name__)

OPTIMIZER_CLASSES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax,
    "adagrad": torch.optim.Adagrad, "radam": torch.optim.RAdam, "nadam": torch.optim.NAdam,
    "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD,
}


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


def read_image(path: str, what: str = "image") -> Image.Image:
    """An image file as upright 8-bit RGB, decoded as the gallery and the curators decode it
    (`generator.common.images.open_rgb`: EXIF orientation, transparency on the display background)."""
    try:
        return open_rgb(path).image
    except UnreadableImage as exc:
        raise GeneratorError(f"cannot read {what} {path!r} ({exc}); give a PNG or JPEG file that exists") from None


def load_image(path: str, size: tuple[int, int], device: torch.device | str = "cpu",
               what: str = "image") -> torch.Tensor:
    """An image file -> (1, 3, H, W) in [0, 1], centre-cropped to the aspect of `size` (W, H) and resized."""
    im = ImageOps.fit(read_image(path, what), size, Image.Resampling.LANCZOS)
    t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(size[1], size[0], 3)
    return t.permute(2, 0, 1)[None].float().div(255).to(device)


def optimise(cfg: GenerateConfig, vqgan: VQGAN, perceptors: Mapping[str, Perceptor],
             device: torch.device) -> Iterator[Step]:
    """Yield `cfg.steps` steps (fewer if `auto_stop` ends a plateau) for a config that `pipeline.check` has passed,
    with `perceptors` by name without "@weight"."""
    run = _Run(cfg, vqgan, perceptors, device)
    for i in range(cfg.steps):
        step = run.step(i)
        yield step
        if step.last:
            return


# --- the parts of a run -------------------------------------------------------------------------------------------

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

    @classmethod
    def build(cls, cfg: GenerateConfig, perceptor: Perceptor, weight: float, device: torch.device) -> _Head:
        """Cutouts for this perceptor, and its fixed targets: the image prompts' and noise prompts' embeddings."""
        cutouts = Cutouts(perceptor.input_resolution, cfg.cutn, cfg.cut_pow, cfg.cutout_mode, cfg.augments,
                          cfg.noise_fac).to(device)
        fixed: dict[str, PromptLoss] = {}
        for j, spec in enumerate(cfg.image_prompts):
            p = parse_prompt(spec, "image prompt")
            image = load_image(p.text, cfg.size, device, "image prompt")
            embeds = perceptor.encode_image(perceptor.preprocess_normalize(cutouts(image)))
            fixed[f"image{j}"] = PromptLoss(embeds, p.weight, p.stop).to(device)
        for j, spec in enumerate(cfg.noise_prompts):
            seed, w = parse_noise_prompt(spec)
            embed = torch.empty([1, perceptor.embed_dim]).normal_(generator=torch.Generator().manual_seed(seed))
            fixed[f"noise{j}"] = PromptLoss(embed, w).to(device)
        return cls(perceptor, weight, cutouts, fixed)

    def set_text(self, specs: tuple[PromptSpec, ...]) -> None:
        missing = [s.text for s in specs if s.text not in self.text_cache]
        if missing:
            with torch.no_grad():
                embeds = self.perceptor.encode_text(missing)
            self.text_cache.update(zip(missing, embeds[:, None, :], strict=True))
        self.text = {f"text{j}": PromptLoss(self.text_cache[s.text], s.weight, s.stop).to(self.perceptor.device)
                     for j, s in enumerate(specs)}


class _Run:
    """One generation between its steps: the latent and its bounds, the heads, the optimiser, the prompts in force
    and the plateau watch. `step(i)` is: the prompts of step i, the losses, the update, the plateau."""

    def __init__(self, cfg: GenerateConfig, vqgan: VQGAN, perceptors: Mapping[str, Perceptor],
                 device: torch.device) -> None:
        self.cfg, self.vq, self.device = cfg, vqgan, device
        self.dtype = resolve_precision(cfg.precision, device)
        check_size(cfg.size, vqgan.factor)
        self.rng = _Rng(cfg.seed, device)
        self.codebook = vqgan.codebook.detach().float()
        self.z_min = self.codebook.min(0).values[None, :, None, None]
        self.z_max = self.codebook.max(0).values[None, :, None, None]
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        with self.rng.active(), torch.no_grad():
            z = self._initial_latent()
            self.z_orig = z.clone()
            self.heads = [_Head.build(cfg, perceptors[name], weight, device)
                          for name, weight in map(split_weight, cfg.perceptors)]
        self.z = z.contiguous().requires_grad_(True)
        self.opt = OPTIMIZER_CLASSES[cfg.optimizer]([self.z], lr=cfg.lr)
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
        self.base = tuple(parse_prompt(p) for p in cfg.prompts)
        self.schedule = parse_schedule(cfg.schedule)
        self.plateau = _Plateau(cfg.plateau_patience, cfg.plateau_min_delta) if cfg.plateau_patience else None
        self.lr_dropped = False
        self.current: tuple[PromptSpec, ...] | None = None

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()

    def _initial_latent(self) -> torch.Tensor:
        """The init image's latent, or random codes of the codebook (drawn from the run's stream)."""
        cfg, f = self.cfg, self.vq.factor
        if cfg.init_image:
            image = load_image(cfg.init_image, cfg.size, self.device, "init image")
            return self.vq.encode(image.mul(2).sub(1)).float()
        w, h = cfg.size
        idx = torch.randint(self.codebook.shape[0], (h // f * (w // f),), device=self.device)
        return self.codebook[idx].view(1, h // f, w // f, -1).permute(0, 3, 1, 2)

    def _set_prompts(self, i: int) -> None:
        """The text prompts in force at step i (the schedule may change them); embedded once per text."""
        specs = prompts_at(i, self.base, self.schedule)
        if specs != self.current:
            for head in self.heads:
                head.set_text(specs)
            self.current = specs

    def _losses(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The decoded image (1, 3, H, W) in [0, 1] and each named loss term, summed over the perceptors."""
        with self.rng.active():
            z_q = vector_quantize(self.z.movedim(1, 3), self.codebook).movedim(3, 1)
            with self._autocast():
                decoded = self.vq.decode(z_q.contiguous(memory_format=self.memory_format))
                out = clamp_with_grad(decoded.float().add(1).div(2), 0, 1)
            terms: dict[str, torch.Tensor] = {}
            for head in self.heads:
                p = head.perceptor
                # why outside autocast: kornia builds its warp grids with matmuls, which autocast would run in
                # bf16/fp16 (a pixel of error at 224 px); only the image tower runs in half precision
                cutouts = head.cutouts(out)
                with self._autocast():
                    embeds = p.encode_image(p.preprocess_normalize(cutouts))
                for key, loss_fn in (*head.text.items(), *head.fixed.items()):
                    term = head.weight * loss_fn(embeds.float())
                    terms[key] = terms[key] + term if key in terms else term
            if self.cfg.init_weight:
                terms["init"] = F.mse_loss(self.z, self.z_orig) * (self.cfg.init_weight / 2)
        return out, terms

    def _update(self, total: torch.Tensor) -> None:
        """One optimiser step on z (loss-scaled under fp16), then z clamped to the codebook's range."""
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(total).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            total.backward()
            self.opt.step()
        with torch.no_grad():
            self.z.copy_(self.z.maximum(self.z_min).minimum(self.z_max))

    def _plateau_stops(self, i: int, loss: float, lr: float) -> bool:
        """True when a plateau ends the run: the first plateau drops the learning rate, the next one stops."""
        if self.plateau is None or not self.plateau.update(loss):
            return False
        if not self.lr_dropped and self.cfg.lr_drop < 1:
            for group in self.opt.param_groups:
                group["lr"] *= self.cfg.lr_drop
            self.lr_dropped = True
            self.plateau.reset()
            log.info("loss plateau at step %d: learning rate %.4g -> %.4g", i, lr, lr * self.cfg.lr_drop)
            return False
        if self.cfg.auto_stop:
            log.info("loss plateau at step %d: stopping early", i)
            return True
        return False

    def step(self, i: int) -> Step:
        self._set_prompts(i)
        out, terms = self._losses()
        total = torch.stack(list(terms.values())).sum()
        values = torch.stack([total.detach(), *(t.detach() for t in terms.values())]).tolist()
        if not all(math.isfinite(v) for v in values):
            raise NonFiniteLoss(f"the loss became {values[0]} at step {i} (seed {self.cfg.seed}); try another seed or "
                                f"a lower lr than {self.cfg.lr}")
        self._update(total)
        lr = self.opt.param_groups[0]["lr"]
        last = self._plateau_stops(i, values[0], lr) or i == self.cfg.steps - 1
        keep = last or (self.cfg.save_every > 0 and i % self.cfg.save_every == 0)
        return Step(index=i, loss=values[0], losses=dict(zip(terms, values[1:], strict=True)),
                    image=out.detach().float().cpu() if keep else None, lr=lr, last=last)
