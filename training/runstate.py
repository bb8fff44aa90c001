"""What a training run carries to continue exactly where it stopped, for both trainers.

- RNG states (`capture_rng` / `restore_rng`): Python's `random`, NumPy's global generator, torch's CPU generator,
  every CUDA generator where CUDA is present, and the data loader's own generator when the trainer keeps one.
- The position (`Progress`: epoch, batch, step). Both trainers draw their batch order from (seed, epoch) alone, so the
  position is the whole state of the sampler: a resumed run skips the batches already taken and goes on.
- Checkpoints (`checkpoint`, `save_checkpoint`, `load_checkpoint`): a dict of tensors and plain values only (RNG
  states included, as tensors), written atomically and read with `torch.load(weights_only=True)`; a file that holds
  any other pickled object is refused, never unpickled.
- The resume check (`check_settings`): a resumed run must have the settings the checkpoint was saved with, except the
  few that only change how it runs (device, workers, where it stops); the refusal names each difference.
- `library_versions`, which every run folder's config.json records.
"""

from __future__ import annotations

import logging
import pickle
import random
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generator.common.files import atomic_path
from training.errors import ResumeRefused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Where a run stands: the next batch to take is batch `batch` of epoch `epoch` (both 0-based)."""

    epoch: int = 0
    batch: int = 0
    step: int = 0  # optimizer updates done so far

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Progress:
        return cls(int(data["epoch"]), int(data["batch"]), int(data["step"]))


def capture_rng(loader_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG state a training step may draw from, as tensors and plain values (`weights_only` loads them)."""
    version, words, gauss_next = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(words, dtype=torch.int64), "gauss_next": gauss_next},
        "numpy": {"bit_generator": numpy_state["bit_generator"],
                  "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if loader_generator is not None:
        state["loader"] = loader_generator.get_state()
    return state


def restore_rng(state: Mapping[str, Any], loader_generator: torch.Generator | None = None) -> None:
    """Put back the states `capture_rng` took (those it holds: checkpoints of older versions hold fewer)."""
    if "python" in state:
        py = state["python"]
        random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    if "numpy" in state:
        npy = state["numpy"]
        np.random.set_state({"bit_generator": npy["bit_generator"],
                             "state": {"key": npy["key"].numpy().astype(np.uint32), "pos": npy["pos"]},
                             "has_gauss": npy["has_gauss"], "gauss": npy["gauss"]})
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if len(cuda) != count:
            log.warning("the checkpoint holds %d CUDA generator states and this machine has %d GPU(s); restoring "
                        "the first %d", len(cuda), count, min(len(cuda), count))
        for index, generator_state in enumerate(cuda[:count]):
            torch.cuda.set_rng_state(generator_state, index)
    if loader_generator is not None and "loader" in state:
        loader_generator.set_state(state["loader"])


def checkpoint(kind: str, config: Mapping[str, Any], progress: Progress,
               loader_generator: torch.Generator | None = None, **parts: Any) -> dict[str, Any]:
    """A checkpoint of trainer `kind`: its settings, position and RNG states (taken now), and its own `parts`
    (model, optimizer, history ...), which must be tensors and plain values too."""
    return {"format": kind, "config": dict(config), "progress": progress.to_dict(),
            "rng": capture_rng(loader_generator), **parts}


def save_checkpoint(state: Mapping[str, Any], path: str | Path) -> Path:
    """`torch.save` to `path` atomically: a crash leaves the previous checkpoint, never half of a new one."""
    with atomic_path(path) as tmp:
        torch.save(dict(state), tmp)
    return Path(path)


def load_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """A checkpoint `save_checkpoint` wrote for trainer `kind`, loaded on the CPU with `weights_only=True`.

    `ResumeRefused` when the file holds pickled Python objects (named), cannot be read, or is another kind's.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # not even a readable archive: the message below says so
            unsafe = []
        if unsafe:
            raise ResumeRefused(f"{path} holds pickled Python objects ({', '.join(unsafe)}), which a training "
                                "checkpoint never does, so it is not loaded; was it written by an older version or "
                                "another program? Start a new run folder (--out)") from None
        raise ResumeRefused(f"cannot read checkpoint {path} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                            "); it may be cut short: start a new run folder (--out)") from None
    found = state.get("format") if isinstance(state, dict) else type(state).__name__
    if found != kind:
        raise ResumeRefused(f"{path} is not a {kind} checkpoint (it says {found!r}); resume it with the trainer "
                            "that wrote it, or start a new run folder (--out)")
    return state


def check_settings(where: str | Path, saved: Mapping[str, Any], now: Mapping[str, Any], may_change: Collection[str],
                   added: Mapping[str, Any] | None = None) -> None:
    """Refuse to resume when a setting outside `may_change` differs between the checkpoint (`saved`) and this run.

    `added` maps settings introduced after runs were first saved to their defaults: a run saved without one ran with
    its default. The message names every difference as `name: saved -> now`.
    """
    saved = {**(added or {}), **saved}
    differing = sorted(k for k in set(now) | set(saved) if k not in may_change and saved.get(k) != now.get(k))
    if differing:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in differing)
        raise ResumeRefused(f"cannot resume {where}: settings differ from the checkpoint ({details}); only "
                            f"{', '.join(sorted(may_change))} may change: resume with the same settings or start a "
                            "new run folder (--out)")


def library_versions() -> dict[str, str]:
    """The versions of the libraries that decide a run's numbers, for its config.json."""
    import open_clip

    return {"torch": torch.__version__, "open_clip": open_clip.__version__}
