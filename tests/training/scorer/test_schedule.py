"""Schedules: the seed 000 recipe as a named, editable JSON file; scaling; seed 001's head-first strategy."""

from __future__ import annotations

import json

import pytest

from generator.common.errors import UnknownEntry
from training.scorer.schedule import (
    Schedule,
    ScheduleError,
    Stage,
    list_schedules,
    load_schedule,
    with_head_warmup,
)


def test_seed000_is_the_recipe():
    s = load_schedule("seed000")
    assert [(st.optimizer, st.lr, st.epochs) for st in s.stages] == [("adamw", 1e-4, 6), ("adam", 1e-5, 4),
                                                                     ("sgd", 1e-6, 2)]
    plan = s.plan()
    assert [p.loss for p in plan] == ["mse", "mse", "l1", "l1", "mixed", "mixed", *["mixed"] * 4, "emd", "emd"]
    assert [p.stage_index for p in plan] == [0] * 6 + [1] * 4 + [2] * 2
    assert all(st.train == "all" for st in s.stages)


def test_registry_lists_and_rejects():
    names = list_schedules()
    assert {"seed000", "seed001", "seed000-head-first", "head-only"} <= set(names)
    with pytest.raises(UnknownEntry, match="unknown schedule 'seed999'; known: .*seed000"):
        load_schedule("seed999")
    seed001 = load_schedule("seed001")
    assert [st.train for st in seed001.stages] == ["head", "all"]


def test_scaled_keeps_the_shape():
    half = load_schedule("seed000").scaled(0.5)
    assert [st.epochs for st in half.stages] == [3, 2, 1]
    assert [p.loss for p in half.plan()][:3] == ["mse", "l1", "mixed"]
    tiny = load_schedule("seed000").scaled(0.01)
    assert [st.epochs for st in tiny.stages] == [1, 1, 1]
    with pytest.raises(ScheduleError, match="epochs scale must be a positive number"):
        load_schedule("seed000").scaled(0)


def test_head_warmup_goes_first():
    s = with_head_warmup(load_schedule("seed000"), 2, lr=1e-3)
    assert s.stages[0].train == "head" and s.stages[0].epochs == 2 and s.epochs == 14
    assert with_head_warmup(load_schedule("seed000"), 0) == load_schedule("seed000")


def test_custom_json_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "stages": [
        {"optimizer": "adam", "lr": 0.001, "epochs": 3, "losses": ["huber", "log_cosh"], "lr_decay": "cosine"}]}))
    s = load_schedule(path)
    assert s.name == "mine" and [p.loss for p in s.plan()] == ["huber", "huber", "log_cosh"]
    assert Schedule.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("stage, message", [
    ({"optimizer": "lbfgs", "lr": 1, "epochs": 1}, "unknown optimizer 'lbfgs'"),
    ({"optimizer": "adam", "lr": -1, "epochs": 1}, "lr must be a positive number"),
    ({"optimizer": "adam", "lr": 1, "epochs": 0}, "epochs must be >= 1"),
    ({"optimizer": "adam", "lr": 1, "epochs": 1, "losses": ["cubic"]}, r"unknown loss\(es\) \['cubic'\]"),
    ({"optimizer": "adam", "lr": 1, "epochs": 1, "train": "tower"}, "train must be one of"),
    ({"optimizer": "adam", "lr": 1, "epochs": 1, "momentun": 0.9}, "unknown keys momentun in stage 0; known: "),
    ({"optimizer": "adam", "epochs": 1}, "needs 'lr'"),
])
def test_bad_stages(stage, message):
    with pytest.raises(ScheduleError, match=message):
        Schedule.from_dict({"name": "bad", "stages": [stage]})


def test_stage_loss_cycle():
    st = Stage(name="x", optimizer="adam", lr=1e-3, epochs=5, losses=("mse", "l1"), loss_every=1)
    assert [st.loss_at(e) for e in range(5)] == ["mse", "l1", "mse", "l1", "mse"]
