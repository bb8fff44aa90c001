"""The training loop: the run folder, resume continuing with the very next step, CPU precision, settings checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from training.contrastive.errors import ContrastiveError
from training.contrastive.trainer import StepInfo, Trainer
from training.errors import ResumeRefused


def _collect(into: list[StepInfo]):
    return into.append


def test_run_folder_holds_config_metrics_plots_checkpoints_and_encoder(pairs: Path, tmp_path: Path,
                                                                       tiny_config) -> None:
    out = tmp_path / "run"
    result = Trainer(tiny_config.replace(loss="clip", learnable_temp=True), pairs, out).fit()
    assert result.steps == 4 and result.epochs_done == 2 and not result.stopped_early
    written = json.loads((out / "config.json").read_text())
    assert written["config"]["loss"] == "clip" and written["data"]["train_pairs"] == 18
    assert written["data"]["val_pairs"] == 6 and written["model"]["name"] == "tiny"
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and len(metrics["train"]) == 4
    for key in ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "zeroshot_top1", "objective"):
        assert 0.0 <= metrics["final"]["val"][key] <= 100.0
    assert metrics["best"]["objective"] == max(e["val"]["objective"] for e in metrics["epochs"])
    for png in ("loss.png", "metrics.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "checkpoints" / "last.pt").is_file() and (out / "checkpoints" / "best-model.pt").is_file()
    assert (out / "encoder" / "open_clip_config.json").is_file()


@pytest.mark.parametrize("loss", ["isogclr"])
def test_resume_ends_bitwise_equal_to_an_uninterrupted_run(pairs: Path, tmp_path: Path, tiny_config,
                                                           loss: str) -> None:
    config = tiny_config.replace(loss=loss, eval_train_max=0)
    straight: list[StepInfo] = []
    a = Trainer(config, pairs, tmp_path / "a")
    a.fit(on_step=_collect(straight))
    assert [s.step for s in straight] == [1, 2, 3, 4]

    first: list[StepInfo] = []
    b = Trainer(config, pairs, tmp_path / "b")
    stopped = b.fit(max_steps=1, on_step=_collect(first))  # mid-epoch: batch 1 of 2
    assert stopped.stopped_early and stopped.steps == 1
    resumed: list[StepInfo] = []
    c = Trainer(config, pairs, tmp_path / "b", resume=True)
    assert c.step == 1 and c.batch_in_epoch == 1
    c.fit(on_step=_collect(resumed))
    assert [s.step for s in resumed] == [2, 3, 4]
    for got, want in zip(first + resumed, straight, strict=True):
        assert (got.lr, got.terms) == (want.lr, want.terms)
    for mine, theirs in ((c.model, a.model), (c.loss_fn, a.loss_fn)):  # the weights and iSogCLR's per-sample state
        want_state = theirs.state_dict()
        assert mine.state_dict().keys() == want_state.keys()
        for name, tensor in mine.state_dict().items():
            assert torch.equal(tensor, want_state[name]), name
    assert c.epochs_log[-1]["val"] == a.epochs_log[-1]["val"]


def test_an_existing_run_is_resumed_or_refused_never_overwritten(pairs: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config.replace(loss="sogclr", epochs=1, eval_train_max=0)
    Trainer(config, pairs, tmp_path / "run").fit(max_steps=1)
    with pytest.raises(ContrastiveError, match="already holds a run; resume it"):
        Trainer(config, pairs, tmp_path / "run")
    with pytest.raises(ResumeRefused, match=r"settings differ from the checkpoint \(lr: 0.001 -> 0.002\)"):
        Trainer(config.replace(lr=0.002), pairs, tmp_path / "run", resume=True)
    more = Trainer(config.replace(epochs=2), pairs, tmp_path / "run", resume=True)  # a longer run, not another
    assert more.step == 1


def test_cpu_runs_float32_even_when_amp_is_asked(pairs: Path, tiny_config) -> None:
    trainer = Trainer(tiny_config.replace(precision="amp", device="cpu"), pairs, None)
    assert trainer.amp_dtype is None and not trainer.scaler.is_enabled()


def test_a_separate_evaluation_set(pairs: Path, tiny_config) -> None:
    trainer = Trainer(tiny_config.replace(eval_data=str(pairs)), pairs, None)
    assert len(trainer.train_set) == 24 and trainer.val_set is not None and len(trainer.val_set) == 24


def test_gradient_clipping_bounds_the_update(pairs: Path, tiny_config) -> None:
    # plain SGD at lr 1: the whole update is the clipped gradient, so its norm is at most grad_clip
    config = tiny_config.replace(loss="clip", optimizer="sgd", momentum=0.0, lr=1.0, warmup_epochs=0,
                                 sched="constant", grad_clip=1e-3, weight_decay=0.0)
    trainer = Trainer(config, pairs, None)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit(max_steps=1)
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(trainer.model.parameters(), before,
                                                                          strict=True)))
    assert 0 < moved.item() <= 1e-3 * (1 + 1e-4)
