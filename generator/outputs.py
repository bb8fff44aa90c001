"""Write a piece: `image.png` (settings in PNG text chunks), `settings.json`, `loss.csv`, `loss.png`, frames.

Every file is written to a temporary name beside it and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from generator.common.files import write_bytes_atomic
from generator.errors import GeneratorError
from generator.pipeline import Result

PNG_KEY = "dstrtd"  # the text chunk holding the whole settings JSON


def png_text_chunks(metadata: dict[str, Any]) -> dict[str, str]:
    """The text chunks of `image.png`: the full JSON under `dstrtd`, and the main settings one per chunk."""
    chunks = {
        PNG_KEY: json.dumps(metadata, sort_keys=True, default=str),
        "Software": f"DSTRTD {metadata.get('versions', {}).get('dstrtd', '')}".strip(),
        "Description": " | ".join(metadata.get("prompts", [])),
    }
    for key in ("prompts", "image_prompts", "noise_prompts", "schedule", "init_image", "init_weight", "size", "steps",
                "seed", "cutn", "cut_pow", "cutout_mode", "augments", "lr", "optimizer", "preset", "vqgan",
                "perceptors", "weights_sha256", "device", "precision", "steps_done", "final_loss", "created"):
        if key in metadata:
            value = metadata[key]
            chunks[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    return chunks


def read_png_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings JSON stored in a piece's PNG (empty if it has none)."""
    with Image.open(path) as im:
        text = getattr(im, "text", {}) or {}
    return json.loads(text[PNG_KEY]) if PNG_KEY in text else {}


PIECE_FILES = ("image.png", "settings.json", "loss.csv", "loss.png")


def check_output_folder(folder: Path) -> None:
    """Raise `GeneratorError` unless `write_piece` can write a new piece into `folder`: checked before generating, so
    minutes of work are never thrown away at the end, and an earlier piece is never overwritten."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise GeneratorError(f"--out {folder} is a file, not a folder; give a folder for the piece (it gets "
                             f"{', '.join(PIECE_FILES)})")
    if folder.is_dir():
        earlier = [name for name in PIECE_FILES if (folder / name).exists()]
        if earlier:
            raise GeneratorError(f"--out {folder} already holds a piece ({', '.join(earlier)}); give a new folder, or "
                                 "move that piece away first")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise GeneratorError(f"--out {folder}: {existing} is a file, so no folder can be made inside it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GeneratorError(f"--out {folder}: {existing} is not writable by you; give a folder you may write to")


def write_piece(folder: Path, result: Result) -> dict[str, Path]:
    """Write the piece's files into `folder` (created if needed); returns {file name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    info = PngImagePlugin.PngInfo()
    for key, value in png_text_chunks(result.metadata).items():
        info.add_itxt(key, value)
    written["image.png"] = write_bytes_atomic(folder / "image.png", _png_bytes(result.image, info))
    written["settings.json"] = write_bytes_atomic(folder / "settings.json",
                                                  json.dumps(result.metadata, indent=2, default=str).encode() + b"\n")
    written["loss.csv"] = write_bytes_atomic(folder / "loss.csv", _csv_bytes(result.trace))
    written["loss.png"] = write_bytes_atomic(folder / "loss.png", _plot_bytes(result))
    for step, frame in zip(result.frame_steps, result.frames, strict=True):
        name = f"frame-{step:05d}.png"
        written[name] = write_bytes_atomic(folder / name, _png_bytes(frame))
    return written


def _png_bytes(image: Image.Image, info: PngImagePlugin.PngInfo | None = None) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _csv_bytes(trace: list[dict[str, float]]) -> bytes:
    columns = ["step", "loss", "lr"]
    for row in trace:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in trace:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue().encode()


def _plot_bytes(result: Result) -> bytes:
    """Loss against iterations, as in the artist's figures, with snapshots of the frames beneath when there are."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    steps = [row["step"] for row in result.trace]
    loss = [row["loss"] for row in result.trace]
    frames = list(zip(result.frame_steps, result.frames, strict=True))
    if len(frames) > 6:  # six snapshots spread from the first to the last
        frames = [frames[round(i * (len(frames) - 1) / 5)] for i in range(6)]
    fig = Figure(figsize=(8, 6.2 if frames else 4.5), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2 if frames else 1, max(1, len(frames)), height_ratios=[3, 1.3] if frames else [1])
    ax = fig.add_subplot(grid[0, :])
    ax.plot(steps, loss, color="#1f6f8b", linewidth=1, alpha=0.45, label="loss per step")
    k = max(2, len(loss) // 25)
    if len(loss) >= 10:
        ax.plot(steps, _moving_average(loss, k), color="#1f6f8b", linewidth=2, label=f"moving average ({k} steps)")
    meta = result.metadata
    prompt = " | ".join(meta.get("prompts", [])) or "(image prompts)"
    w, h = meta.get("size", ("?", "?"))
    ax.set_title(f'"{prompt}"  {w}x{h}, seed {meta.get("seed")}', fontsize=10)
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss (spherical distance)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    for j, (step, frame) in enumerate(frames):
        sub = fig.add_subplot(grid[1, j])
        sub.imshow(frame)
        sub.set_title(f"step {step}", fontsize=8)
        sub.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _moving_average(values: list[float], k: int) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - k + 1):i + 1]
        out.append(sum(window) / len(window))
    return out
