"""Contrastive training throughput: samples/s of full training steps (forward, loss, backward, AdamW step) for each
loss at each batch size, on random images and tokens, for the tiny model and a random-init ViT-B-32.

    python bench/training.py                                  # tiny + ViT-B-32, batches 32 and 128, on the CPU
    python bench/training.py --models tiny --steps 20 --device cuda --out bench/results/training-gpu.json

Prints a table and writes JSON (default bench/results/training-<device>.json). A step here is one global batch
in one process; `loss_ms` is the loss alone (forward and backward on random features of the same shape);
`samples_per_cpu_s` divides by the process's CPU time instead of the wall clock, which holds up better when other
work shares the machine (the JSON records the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: before bench/, whose training.py would shadow the package

from training.contrastive.losses import build_loss  # noqa: E402
from training.contrastive.models import create_encoder  # noqa: E402
from training.contrastive.optim import build_optimizer, parameter_groups  # noqa: E402

LOSSES = ("clip", "sogclr", "isogclr")
LOSS_SETTINGS = dict(temp=0.01, sogclr_gamma=0.8, tau_init=0.01, rho_I=8.0, rho_T=8.0, eta_init=1e-3, beta_u=0.5,
                     tau_min=0.005, tau_max=0.05, tau_grad_clip=5.0)  # seed 002's Table 1


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_one(model_name: str, loss_name: str, batch: int, steps: int, warmup: int, device: torch.device,
              amp: bool) -> dict:
    enc = create_encoder(model_name, embed_dim=256 if model_name != "tiny" else None, temperature=0.01,
                         learnable_temperature=loss_name == "clip", seed=0)
    model = enc.model.to(device).train()
    n = batch * 10  # a dataset ten batches long: the global losses index their state by sample
    loss_fn = build_loss(loss_name, n, **LOSS_SETTINGS).to(device)
    opt = build_optimizer("adamw", parameter_groups(model, 0.02), lr=1e-4, weight_decay=0.02)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, enc.image_size, enc.image_size, generator=g).to(device)
    context = enc.tokenizer(["x"]).shape[1]
    tokens = torch.randint(1, 49000, (batch, context), generator=g)
    tokens[:, -1] = 49407  # an end-of-text token, where the text tower pools
    tokens = tokens.to(device)
    native_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    amp_dtype = torch.bfloat16 if amp and native_bf16 else None

    def step(k: int) -> None:
        index = ((torch.arange(batch) + k * batch) % n).to(device)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            image_f, text_f, scale = model(images, tokens)
        terms = loss_fn(image_f.float(), text_f.float(), index, scale.float())
        terms["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for k in range(warmup):
        step(k)
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        step(warmup + k)
    sync(device)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0

    # the loss alone, forward and backward, on features of the same shape
    dim = int(enc.model_cfg["embed_dim"])
    feats = [torch.nn.functional.normalize(torch.randn(batch, dim, generator=g), dim=1).to(device).requires_grad_()
             for _ in range(2)]
    index = torch.arange(batch, device=device)
    reps = 20
    sync(device)
    t1 = time.perf_counter()
    for _ in range(reps):
        loss_fn(*feats, index, torch.tensor(100.0, device=device))["loss"].backward()
    sync(device)
    loss_ms = 1000 * (time.perf_counter() - t1) / reps
    return {"model": model_name, "loss": loss_name, "batch": batch, "steps": steps,
            "samples_per_s": batch * steps / seconds, "step_s": seconds / steps, "loss_ms": loss_ms,
            "samples_per_cpu_s": batch * steps / cpu_seconds,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6, "image_size": enc.image_size}


def per_model(spec: str) -> dict[str, int]:
    """"tiny=30,ViT-B-32=2" -> {"tiny": 30, "ViT-B-32": 2}; a bare number applies to every model ("*")."""
    out = {}
    for item in spec.split(","):
        name, _, value = item.rpartition("=")
        out[name or "*"] = int(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny,ViT-B-32")
    parser.add_argument("--batches", default="32,128")
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--steps", default="tiny=30,ViT-B-32=2", help="timed steps per model (name=N, or N)")
    parser.add_argument("--warmup", default="tiny=3,ViT-B-32=1", help="untimed steps first, per model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA only)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    steps_for, warmup_for = per_model(args.steps), per_model(args.warmup)
    rows = []
    load_before = os.getloadavg()
    print(f"{'model':<10} {'loss':<8} {'batch':>5} {'samples/s':>10} {'/cpu-s':>8} {'step s':>8} {'loss ms':>8}")
    for model_name in args.models.split(","):
        steps = steps_for.get(model_name, steps_for.get("*", 5))
        warmup = warmup_for.get(model_name, warmup_for.get("*", 1))
        for batch in (int(b) for b in args.batches.split(",")):
            for loss_name in args.losses.split(","):
                row = bench_one(model_name, loss_name, batch, steps, warmup, device, args.amp)
                rows.append(row)
                print(f"{model_name:<10} {loss_name:<8} {batch:>5} {row['samples_per_s']:>10.1f} "
                      f"{row['samples_per_cpu_s']:>8.1f} {row['step_s']:>8.3f} {row['loss_ms']:>8.2f}", flush=True)
    doc = {
        "bench": "contrastive training step throughput (random data, AdamW, float32 unless --amp)",
        "device": str(device),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "rows": rows,
    }
    out = Path(args.out or ROOT / "bench" / "results" / f"training-{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
