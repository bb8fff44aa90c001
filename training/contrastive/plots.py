"""PNG plots of a run: the training loss by step, and the evaluation metrics by epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.common.files import atomic_path


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)


def plot_run(train: list[dict[str, float]], epochs: list[dict[str, Any]], folder: Path, title: str) -> list[Path]:
    """`loss.png` (loss and, for the global losses, the objective estimate, against the step) and `metrics.png`
    (validation recall, zero-shot accuracy and objective against the epoch). Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if train:
        fig, ax = plt.subplots(figsize=(7, 4))
        steps = [r["step"] for r in train]
        key = "objective" if "objective" in train[0] else "loss"
        ax.plot(steps, [r[key] for r in train], label=f"train {key}")
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax2 = ax.twinx()
        ax2.plot(steps, [r["lr"] for r in train], color="tab:gray", alpha=0.5, label="learning rate")
        ax2.set_ylabel("learning rate")
        ax.set_title(title)
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
        fig.tight_layout()
        _save(fig, folder / "loss.png")
        plt.close(fig)
        written.append(folder / "loss.png")
    evaluated = [e for e in epochs if e.get("val")]
    if evaluated:
        fig, ax = plt.subplots(figsize=(7, 4))
        xs = [e["epoch"] for e in evaluated]
        for key in ("i2t_r1", "t2i_r1", "zeroshot_top1", "objective"):
            if key in evaluated[0]["val"]:
                ax.plot(xs, [e["val"][key] for e in evaluated], marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("percent")
        ax.set_title(f"{title}: held-out metrics")
        ax.legend()
        fig.tight_layout()
        _save(fig, folder / "metrics.png")
        plt.close(fig)
        written.append(folder / "metrics.png")
    return written
