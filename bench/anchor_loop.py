"""The anchor: one optimisation step as nerdyrodent/VQGAN-CLIP's `generate.py` takes it, rebuilt on our modules.

The issue's speed target compares our loop with that script's at 512², cutn 32. This file re-implements the
*structure and costs* of its step (not its code) so `generator.py --anchor` can time both on one machine with
the same random weights. Source read: nerdyrodent/VQGAN-CLIP `generate.py` at commit
df4913973ce376bf1ed232d3913053a33804a6c0 (the newest stored; cited below by function, as "gp:NAME"), and
openai/CLIP `clip/clip.py` `load()` (cited "clip:load"). Behaviours reproduced:

Models
- gp:load_vqgan_model: the whole taming VQModel (encoder too, `loss` deleted) in eval mode with
  `requires_grad_(False)`, fp32, no channels_last, no compile -> `build_vqgan(name, device)`.
- gp:`perceptor = clip.load(args.clip_model, jit=False)[0].eval().requires_grad_(False)`: clip:load builds the
  model with `convert_weights` (conv/linear/attention weights and projections in fp16) and calls `model.float()`
  only when the device is the CPU, so on a GPU the image tower runs in plain fp16 (no autocast), with CLIP's
  LayerNorm computing in fp32, and `encode_image` casts its input to fp16 -> `_fp16_like_openai` (open_clip's
  `convert_weights_to_lp` + `LayerNormFp32`), input cast in `AnchorLoop.step`. On the CPU: fp32, as there.
- gp:`torch.backends.cudnn.benchmark = False` (set at import) -> set for the duration of each step.

Setup (untimed, as there)
- gp:z init ("else:" branch): `one_hot(randint(n_toks)) @ codebook`, `.view(1, toksY, toksX, e_dim).permute(0, 3,
  1, 2)` -> z is a channels-last-strided view (not made contiguous), kept as is; `z.requires_grad_(True)`.
- gp:get_opt: default optimiser Adam, lr 0.1 (`-lr` default).
- gp:"CLIP tokenize/encode": each text prompt encoded once, `.float()`, wrapped in `Prompt(embed, weight, stop)`.
- gp:MakeCutouts.__init__ (default cut method 'latest', default augments [['Af', 'Pe', 'Ji', 'Er']] in that order):
  RandomAffine(15 deg, translate 0.1, shear 5, p 0.7, zeros), RandomPerspective(0.7, p 0.7),
  ColorJitter(0.1, 0.1, 0.1, 0.1, p 0.7), RandomErasing((.1, .4), (.3, 1/.3), same_on_batch, p 0.7); noise_fac 0.1.
  Our `Cutouts` builds these same kornia modules by name ("affine", "perspective", "jitter", "erasing"); we use its
  `augs` only.

The step (gp:train -> gp:ascend_txt -> gp:synth), each timed
- `opt.zero_grad(set_to_none=True)`.
- gp:synth / gp:vector_quantize: distances `|x|^2 + |c|^2 - 2 x c^T`, argmin, then a dense
  `one_hot(indices, n_codes) @ codebook` (an (H/16 * W/16) x 16384 matmul, not an index), straight-through
  `replace_grad`; `model.decode(z_q).add(1).div(2)` in fp32; `clamp_with_grad(., 0, 1)`.
- gp:MakeCutouts.forward: for each of the cutn cutouts, `(AdaptiveAvgPool2d(input) + AdaptiveMaxPool2d(input)) / 2`
  is computed again (cutn identical poolings, each in the autograd graph), `torch.cat`, the augmentation
  Sequential on the batch, then `facs ~ U(0, 0.1)` per cutout times `randn_like`.
- gp:ascend_txt: `perceptor.encode_image(normalize(cutouts)).float()` with CLIP's mean/std (torchvision Normalize);
  one `Prompt` loss per prompt: normalised embeddings, `|a - b| / 2 -> arcsin -> ^2 * 2`, times sign(weight),
  `replace_grad` with the stop, mean, times |weight| (our `PromptLoss`, identical but for an arcsin clamp at
  1 - 1e-7 that costs nothing). No init-weight term (its default 0); the per-step PNG of `make_video` is off by
  default and not reproduced.
- gp:train: `loss = sum(lossAll)` (Python sum), `loss.backward()`, `opt.step()`, then under `inference_mode`
  `z.copy_(z.maximum(z_min).minimum(z_max))` with the codebook's per-channel min/max.
- gp:checkin every `display_freq` = 50 steps (`-se` default), from step 0: `.item()` of each loss, one more `synth`
  under `inference_mode`, `TF.to_pil_image(out[0].cpu())` saved as PNG -> same here, the PNG encoded into memory
  (no file). `generator.py` times steps after the warm-up, so with few steps this 1-in-50 cost is not seen.

Not reproduced: tqdm, prints, seed handling (ours: a seed for z), the zoom/video/story modes, and that the script
used the kornia of its day (we run kornia as installed here: same augmentations, possibly different kernels).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generator.cutouts import Cutouts
from generator.losses import PromptLoss
from generator.ops import clamp_with_grad, replace_grad
from generator.perceptors import OPENAI_MEAN, OPENAI_STD, Normalize, load_perceptor
from generator.vqgan import VQGAN, build_vqgan

SOURCE = "nerdyrodent/VQGAN-CLIP generate.py @ df4913973ce376bf1ed232d3913053a33804a6c0"
AUGMENTS = ("affine", "perspective", "jitter", "erasing")  # its default -aug Af Pe Ji Er, in that order
LR = 0.1  # its -lr default (Adam)
NOISE_FAC = 0.1  # MakeCutouts.noise_fac
SAVE_EVERY = 50  # its -se default: checkin (extra decode + PNG) every 50 steps


@dataclass
class AnchorModels:
    """The anchor's own models: an fp32 VQGAN and a CLIP whose image tower is fp16 on CUDA (as `clip.load` leaves
    OpenAI's CLIP there), fp32 elsewhere; both frozen, eval mode."""

    vqgan: VQGAN
    clip: nn.Module  # an open_clip CLIP
    tokenizer: object
    input_resolution: int
    device: torch.device
    dtype: torch.dtype  # of the image tower's weights and input


def load_anchor_models(vqgan: str, perceptor: str, device: torch.device | str,
                       dtype: torch.dtype | None = None) -> AnchorModels:
    """Random-weight models for the anchor: `vqgan` a VQGAN config name, `perceptor` e.g. "ViT-B-32:random" or
    "tiny". Built apart from ours (no channels_last, no compile, no sharing) so each loop's memory is its own.
    `dtype` of the image tower: None = as `clip.load` (fp16 on CUDA, fp32 elsewhere)."""
    device = torch.device(device)
    vq = build_vqgan(vqgan, device).eval().requires_grad_(False)
    p = load_perceptor(perceptor, device)
    model = p.model.eval().requires_grad_(False)
    if dtype is None:
        dtype = torch.float16 if device.type == "cuda" else torch.float32
    if dtype == torch.float16:
        _fp16_like_openai(model)
    return AnchorModels(vq, model, p.tokenizer, p.input_resolution, device, dtype)


def _fp16_like_openai(model: nn.Module) -> None:
    """OpenAI CLIP's `convert_weights` (conv, linear, attention and projections to fp16) with its LayerNorm that
    computes in fp32: open_clip's mirror of both."""
    from open_clip.model import convert_weights_to_lp
    from open_clip.transformer import LayerNormFp32

    convert_weights_to_lp(model, dtype=torch.float16)
    for m in model.modules():
        if isinstance(m, nn.LayerNorm) and not isinstance(m, LayerNormFp32):
            m.__class__ = LayerNormFp32


class AnchorCutouts(nn.Module):
    """gp:MakeCutouts.forward with the default augmentations: cutn separate poolings, cat, augment, noise."""

    def __init__(self, cut_size: int, cutn: int) -> None:
        super().__init__()
        self.cut_size, self.cutn = cut_size, cutn
        self.augs = Cutouts(cut_size, cutn, mode="pooled", augments=AUGMENTS, noise_fac=NOISE_FAC).augs
        self.av_pool = nn.AdaptiveAvgPool2d((cut_size, cut_size))
        self.max_pool = nn.AdaptiveMaxPool2d((cut_size, cut_size))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        cutouts = [(self.av_pool(image) + self.max_pool(image)) / 2 for _ in range(self.cutn)]
        batch = self.augs(torch.cat(cutouts, dim=0))
        facs = batch.new_empty([self.cutn, 1, 1, 1]).uniform_(0, NOISE_FAC)
        return batch + facs * torch.randn_like(batch)


def _one_hot_quantize(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """gp:vector_quantize: nearest codes through a dense one-hot matmul, straight-through to x."""
    d = x.pow(2).sum(dim=-1, keepdim=True) + codebook.pow(2).sum(dim=1) - 2 * x @ codebook.T
    x_q = F.one_hot(d.argmin(-1), codebook.shape[0]).to(d.dtype) @ codebook
    return replace_grad(x_q, x)


@contextlib.contextmanager
def _cudnn_benchmark_off() -> Iterator[None]:
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


class AnchorLoop:
    """The anchor's optimisation state (z, Adam, prompts, cutouts); `step()` takes one gp:train step.

    `size` is (W, H) in pixels, a multiple of the VQGAN's factor. Randomness comes from torch's global generators,
    as there.
    """

    def __init__(self, models: AnchorModels, size: tuple[int, int], cutn: int,
                 prompts: tuple[str, ...] = ("a coral reef",), seed: int = 0, save_every: int = SAVE_EVERY) -> None:
        self.models, self.save_every, self.i = models, save_every, 0
        vq, device = models.vqgan, models.device
        f = vq.factor
        toks_x, toks_y = size[0] // f, size[1] // f
        self.codebook = vq.codebook
        n_toks, e_dim = self.codebook.shape
        self.z_min = self.codebook.min(dim=0).values[None, :, None, None]
        self.z_max = self.codebook.max(dim=0).values[None, :, None, None]
        gen = torch.Generator(device=device).manual_seed(seed)
        idx = torch.randint(n_toks, [toks_y * toks_x], device=device, generator=gen)
        z = F.one_hot(idx, n_toks).float() @ self.codebook
        self.z = z.view([-1, toks_y, toks_x, e_dim]).permute(0, 3, 1, 2).requires_grad_(True)  # strides kept
        self.opt = torch.optim.Adam([self.z], lr=LR)
        self.cutouts = AnchorCutouts(models.input_resolution, cutn).to(device)
        self.normalize = Normalize(OPENAI_MEAN, OPENAI_STD).to(device)
        with torch.no_grad():
            tokens = models.tokenizer(list(prompts)).to(device)
            embeds = models.clip.encode_text(tokens).float()
        self.prompts = [PromptLoss(e[None], 1.0).to(device) for e in embeds]

    def synth(self) -> torch.Tensor:
        z_q = _one_hot_quantize(self.z.movedim(1, 3), self.codebook).movedim(3, 1)
        return clamp_with_grad(self.models.vqgan.decode(z_q).add(1).div(2), 0, 1)

    def _losses(self) -> list[torch.Tensor]:
        out = self.synth()
        batch = self.normalize(self.cutouts(out)).to(self.models.dtype)  # clip's encode_image casts to its dtype
        embeds = self.models.clip.encode_image(batch).float()
        return [prompt(embeds) for prompt in self.prompts]

    def _checkin(self, losses: list[torch.Tensor]) -> None:
        from PIL import Image

        _ = [loss.item() for loss in losses], sum(losses).item()
        with torch.inference_mode():
            out = self.synth()
            array = out[0].mul(255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        Image.fromarray(array, "RGB").save(io.BytesIO(), format="PNG")

    def step(self) -> torch.Tensor:
        """One step; returns the (detached) total loss without reading it back (the caller synchronises)."""
        with _cudnn_benchmark_off():
            self.opt.zero_grad(set_to_none=True)
            losses = self._losses()
            if self.save_every and self.i % self.save_every == 0:
                self._checkin(losses)
            loss = sum(losses)
            loss.backward()
            self.opt.step()
            with torch.inference_mode():
                self.z.copy_(self.z.maximum(self.z_min).minimum(self.z_max))
        self.i += 1
        return loss.detach()
