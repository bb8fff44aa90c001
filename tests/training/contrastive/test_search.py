"""Optuna search: trials stored in SQLite, a second run resumes the same study, phase 2 trains the best."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from training.contrastive.search import SearchSpace, best_config, search, train_best


def test_two_trials_then_two_more_make_a_study_of_four(pairs: Path, tmp_path: Path, tiny_config) -> None:
    base = tiny_config.replace(eval_train_max=0)
    space = SearchSpace(losses=("sogclr", "isogclr", "clip"), optimizers=("adamw", "lamb"))
    first = search(base, pairs, tmp_path, trials=2, fraction=1.0, epochs=1, space=space)
    assert len(first.trials) == 2
    again = search(base, pairs, tmp_path, trials=2, fraction=1.0, epochs=1, space=space)
    assert len(again.trials) == 4
    stored = optuna.load_study(study_name="phase1", storage=f"sqlite:///{tmp_path / 'search.db'}")
    assert len(stored.trials) == 4
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in stored.trials)
    assert all(0.0 <= t.value <= 100.0 for t in stored.trials)
    assert len({json.dumps(t.params, sort_keys=True) for t in stored.trials}) == 4  # the resumed run did not repeat
    summary = json.loads((tmp_path / "search.json").read_text())
    assert len(summary["trials"]) == 4 and summary["best"]["value"] == stored.best_value

    chosen = best_config(stored, base)
    assert chosen.loss == stored.best_trial.params["loss"] and chosen.lr == stored.best_trial.params["lr"]
    result = train_best(stored, base.replace(epochs=1), pairs, tmp_path)
    assert result.epochs_done == 1 and (tmp_path / "best" / "metrics.json").is_file()
