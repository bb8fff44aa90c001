"""The run state both trainers share: RNG states that round-trip through a weights-only checkpoint, checkpoints that
refuse pickled objects, and the resume check naming every setting that differs."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from training.errors import ResumeRefused
from training.runstate import (
    Progress,
    check_settings,
    checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)


def _draws(loader: torch.Generator) -> tuple:
    return (random.random(), random.gauss(0, 1), float(np.random.rand()), float(np.random.randn()),
            torch.rand(3).tolist(), torch.randint(0, 1000, (3,), generator=loader).tolist())


def test_every_rng_state_survives_a_weights_only_checkpoint(tmp_path: Path) -> None:
    loader = torch.Generator().manual_seed(3)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's generator ...
    np.random.randn()  # ... and in NumPy's: both are part of the state
    saved = checkpoint("demo", {"lr": 0.1}, Progress(epoch=2, batch=5, step=17), loader, history=[{"loss": 1.5}])
    want = _draws(loader)
    path = save_checkpoint(saved, tmp_path / "checkpoints" / "last.pt")
    state = load_checkpoint(path, "demo")  # torch.load(weights_only=True) inside
    assert Progress.from_dict(state["progress"]) == Progress(2, 5, 17) and state["history"] == [{"loss": 1.5}]
    assert ("cuda" in state["rng"]) == torch.cuda.is_available()
    _draws(loader)  # move every generator on
    restore_rng(state["rng"], loader)
    assert _draws(loader) == want
    assert list(path.parent.iterdir()) == [path]  # written atomically: no temporary file left beside it


def test_a_checkpoint_holding_a_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    # what the contrastive trainer wrote before its RNG states became tensors: NumPy's state as an ndarray tuple
    torch.save({"format": "demo", "rng": {"numpy": np.random.get_state()}}, path)
    with pytest.raises(ResumeRefused, match=r"holds pickled Python objects \(.*numpy.*\).*not loaded.*--out"):
        load_checkpoint(path, "demo")


def test_unreadable_and_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pt"
    cut.write_bytes(b"PK\x03\x04 not a whole archive")
    with pytest.raises(ResumeRefused, match=r"cannot read checkpoint .*cut\.pt"):
        load_checkpoint(cut, "demo")
    other = save_checkpoint(checkpoint("scorer", {}, Progress()), tmp_path / "other.pt")
    with pytest.raises(ResumeRefused, match=r"is not a demo checkpoint \(it says 'scorer'\)"):
        load_checkpoint(other, "demo")


def test_the_resume_check_names_each_difference() -> None:
    saved = {"lr": 0.1, "batch_size": 8, "device": "cpu", "seed": 0}
    now = {"lr": 0.2, "batch_size": 4, "device": "cuda", "seed": 0, "head": "logits-per-text"}
    with pytest.raises(ResumeRefused) as refused:
        check_settings("runs/a", saved, now, may_change={"device"}, added={"head": "distribution"})
    message = str(refused.value)
    assert message.startswith("cannot resume runs/a: settings differ from the checkpoint (batch_size: 8 -> 4, "
                              "head: 'distribution' -> 'logits-per-text', lr: 0.1 -> 0.2); only device may change")
    check_settings("runs/a", saved, {**saved, "device": "cuda"}, may_change={"device"})  # no error
    check_settings("runs/a", saved, {**saved, "head": "distribution"}, may_change=(), added={"head": "distribution"})
