"""The settings registry: seed 002's tables as named configs, strict keys, coercion and checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.common.errors import UnknownEntry
from training.contrastive.config import TrainConfig, known_configs, load_config
from training.contrastive.errors import ContrastiveError


def test_registry_holds_the_seed_tables_and_tiny() -> None:
    assert {"seed002", "seed002-phase3", "tiny"} <= set(known_configs())


def test_seed002_is_table_1() -> None:
    c = load_config("seed002")
    assert (c.embed_dim, c.lr, c.warmup_epochs, c.cooldown_epochs, c.batch_size) == (256, 2e-4, 5, 0, 128)
    assert (c.sogclr_gamma, c.rho_I, c.rho_T, c.eta_init, c.tau_init, c.learnable_temp) == (
        0.8, 8.0, 8.0, 1e-3, 0.01, False)
    assert load_config("seed002") == TrainConfig()  # the dataclass defaults are the same table


def test_seed002_phase3_is_table_3() -> None:
    c = load_config("seed002-phase3")
    assert (c.loss, c.optimizer, c.sched, c.lr, c.weight_decay, c.embed_dim) == (
        "isogclr", "radam", "tanh", 0.000164, 0.000373, 512)
    assert (c.sogclr_gamma, c.rho_I, c.rho_T, c.temp, c.warmup_lr, c.cooldown_epochs) == (
        0.966, 9.96, 7.47, 0.0585, 0.001, 1)


def test_unknown_names_and_keys_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownEntry, match="unknown training config 'seed003'; known: seed002, seed002-phase3, "):
        load_config("seed003")
    with pytest.raises(ContrastiveError, match="unknown config keys learning_rate; known: "):
        TrainConfig.from_dict({"learning_rate": 1.0})
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"_why": "a note", "loss": "clip", "lr": "3e-4"}))
    c = load_config(path)
    assert c.loss == "clip" and c.lr == 3e-4


def test_replace_coerces_command_line_strings_and_checks() -> None:
    c = TrainConfig().replace(epochs="3", learnable_temp="true", zero_shot_templates=["{}"], lr="1e-3")
    assert (c.epochs, c.learnable_temp, c.zero_shot_templates, c.lr) == (3, True, ("{}",), 1e-3)
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ContrastiveError, match="loss='simclr' is not one of clip, sogclr, isogclr"):
        TrainConfig(loss="simclr")
    with pytest.raises(ContrastiveError, match="batch_size must be at least 2"):
        TrainConfig(batch_size=1)
    with pytest.raises(ContrastiveError, match="expects int"):
        TrainConfig().replace(epochs="three")
