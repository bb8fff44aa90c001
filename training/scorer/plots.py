"""Training curves of a scorer run as a PNG (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from generator.common.files import atomic_path


def plot_curves(history: dict[str, Any], path: str | Path) -> Path:
    """Loss per step (one colour per loss, log scale, stage boundaries dashed) and validation PLCC/SRCC/MSE per
    epoch, written atomically to `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(11, 4.2), dpi=100)
    ax_loss, ax_val = fig.subplots(1, 2)
    # a fixed layout: tight_layout measures every text box and costs seconds on a busy two-core machine
    fig.subplots_adjust(left=0.08, right=0.9, bottom=0.12, top=0.92, wspace=0.32)

    steps = history.get("steps", [])
    for name in dict.fromkeys(s["loss_name"] for s in steps):
        xs = [s["step"] for s in steps if s["loss_name"] == name]
        ys = [max(s["loss"], 1e-12) for s in steps if s["loss_name"] == name]
        ax_loss.plot(xs, ys, ".", markersize=2, label=name)
    epochs = history.get("epochs", [])
    last_step_of_epoch: dict[int, int] = {}
    for s in steps:
        last_step_of_epoch[s["epoch"]] = s["step"]
    previous = None
    for record in epochs:
        if previous is not None and record["stage"] != previous and record["epoch"] - 1 in last_step_of_epoch:
            ax_loss.axvline(last_step_of_epoch[record["epoch"] - 1], color="grey", linestyle="--", linewidth=0.8)
        previous = record["stage"]
    if steps:
        ax_loss.set_yscale("log")
        ax_loss.legend(loc="best", fontsize=8, markerscale=4)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (per batch)")
    ax_loss.set_title("training loss (dashed: stage change)")

    with_val = [r for r in epochs if r.get("val")]
    xs = [r["epoch"] for r in with_val]
    for key, style in (("plcc", "o-"), ("srcc", "s-")):
        ax_val.plot(xs, [r["val"][key] for r in with_val], style, label=key.upper())
    correlations = [r["val"][k] for r in with_val for k in ("plcc", "srcc") if math.isfinite(r["val"][k])]
    ax_val.set_ylim(min([0.0, *correlations]) - 0.02, 1.02)
    ax_val.set_xlabel("epoch")
    ax_val.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_val.set_ylabel("correlation")
    ax_val.set_title("validation")
    if with_val:
        ax_mse = ax_val.twinx()
        mses = [r["val"]["mse"] for r in with_val]
        ax_mse.plot(xs, mses, "^--", color="tab:red", label="MSE")
        if all(math.isfinite(m) and m > 0 for m in mses) and max(mses) > 20 * min(mses):
            ax_mse.set_yscale("log")
        ax_mse.set_ylabel("MSE (ratings^2)")
        lines = ax_val.get_legend_handles_labels()
        more = ax_mse.get_legend_handles_labels()
        ax_val.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    return path
