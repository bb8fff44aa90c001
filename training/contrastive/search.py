"""Hyper-parameter search with Optuna, in seed 002's phases.

Phase 1 (`search`): a Bayesian (TPE) search over loss x optimizer x learning rate, weight decay and the losses'
own settings, each trial trained for a few epochs on a fraction of the training pairs (the seed: 10 epochs on
20%). Phase 2 (`train_best`): the best trial's settings trained on all the data. A trial's value is the best
held-out objective it reached (mean of i2t R@1, t2i R@1 and zero-shot top-1, in percent).

Studies live in SQLite (`<out>/search.db`), so an interrupted or finished search resumes: running it again adds
the requested number of trials to the same study.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.common.files import write_json_atomic
from training.contrastive.config import LOSSES, TrainConfig
from training.contrastive.data import Manifest, read_manifest
from training.contrastive.errors import NonFiniteTrainingLoss

log = logging.getLogger(__name__)

STUDY_NAME = "phase1"


@dataclass(frozen=True)
class SearchSpace:
    losses: tuple[str, ...] = LOSSES
    optimizers: tuple[str, ...] = ("adamw", "radam", "lamb", "sgd")  # the seed's top three, plus momentum SGD
    lr: tuple[float, float] = (1e-5, 1e-2)
    weight_decay: tuple[float, float] = (1e-6, 0.1)
    temp: tuple[float, float] = (0.005, 0.1)
    sogclr_gamma: tuple[float, float] = (0.1, 1.0)
    rho: tuple[float, float] = (4.0, 12.0)


def suggest(trial: Any, base: TrainConfig, space: SearchSpace) -> TrainConfig:
    """The trial's settings: `base` with the searched fields replaced (conditional on the loss)."""
    loss = trial.suggest_categorical("loss", list(space.losses))
    changes: dict[str, Any] = {
        "loss": loss,
        "optimizer": trial.suggest_categorical("optimizer", list(space.optimizers)),
        "lr": trial.suggest_float("lr", *space.lr, log=True),
        "weight_decay": trial.suggest_float("weight_decay", *space.weight_decay, log=True),
    }
    if loss in ("clip", "sogclr"):
        changes["temp"] = trial.suggest_float("temp", *space.temp, log=True)
    if loss in ("sogclr", "isogclr"):
        changes["sogclr_gamma"] = trial.suggest_float("sogclr_gamma", *space.sogclr_gamma)
    if loss == "isogclr":
        changes["rho_I"] = trial.suggest_float("rho_I", *space.rho)
        changes["rho_T"] = trial.suggest_float("rho_T", *space.rho)
        changes["tau_init"] = trial.suggest_float("tau_init", base.tau_min, base.tau_max, log=True)
    return base.replace(**changes)


def open_study(out: Path, *, seed: int = 0, direction: str = "maximize"):
    """The phase-1 study in `<out>/search.db`, created or loaded."""
    import optuna

    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / 'search.db').resolve()}"
    # a resumed study reseeds from its size, so its random start-up trials do not repeat the first run's
    existing = 0
    try:
        existing = len(optuna.load_study(study_name=STUDY_NAME, storage=storage).trials)
    except KeyError:
        pass
    sampler = optuna.samplers.TPESampler(seed=seed + existing, n_startup_trials=5)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.create_study(study_name=STUDY_NAME, storage=storage, direction=direction, sampler=sampler,
                               pruner=pruner, load_if_exists=True)


def search(base: TrainConfig, data: str | Path | Manifest, out: str | Path, *, trials: int, fraction: float = 0.2,
           epochs: int = 10, space: SearchSpace | None = None,
           on_trial: Callable[[Any], None] | None = None):
    """Phase 1: run `trials` more trials of the study in `<out>/search.db`; returns the study."""
    import optuna

    from training.contrastive.trainer import Trainer

    out = Path(out)
    space = space or SearchSpace()
    manifest = data if isinstance(data, Manifest) else read_manifest(data)
    study = open_study(out, seed=base.seed)
    phase_base = base.replace(data_fraction=fraction, epochs=epochs, checkpoint_every=0)

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, phase_base, space)
        trainer = Trainer(config, manifest, None)

        def report(epoch: int, entry: dict[str, Any]) -> None:
            scored = entry.get("val") or entry.get("train")
            if scored:
                trial.report(scored["objective"], epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"objective {scored['objective']:.2f} at epoch {epoch + 1}")

        result = trainer.fit(on_epoch=report)
        if not result.best:
            raise RuntimeError("the trial ran no evaluation")
        for key in ("i2t_r1", "t2i_r1", "zeroshot_top1", "epoch"):
            if key in result.best:
                trial.set_user_attr(key, result.best[key])
        return float(result.best["objective"])

    callbacks = [lambda study, trial: on_trial(trial)] if on_trial else []
    # a trial whose loss diverges is a result (those settings fail), not a reason to stop the search
    study.optimize(objective, n_trials=trials, catch=(NonFiniteTrainingLoss,), callbacks=callbacks)
    write_summary(study, out / "search.json")
    return study


def write_summary(study: Any, path: Path) -> None:
    rows = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
             "metrics": t.user_attrs} for t in study.trials]
    done = [r for r in rows if r["state"] == "COMPLETE"]
    best = max(done, key=lambda r: r["value"]) if done else None
    write_json_atomic(path, {"study": study.study_name, "best": best, "trials": rows})


def best_config(study: Any, base: TrainConfig) -> TrainConfig:
    """`base` with the best complete trial's parameters (phase 2 trains it on all the data)."""
    try:
        params = study.best_trial.params
    except ValueError as exc:
        raise RuntimeError("the study has no complete trial yet; run more trials") from exc
    return base.replace(**params)


def train_best(study: Any, base: TrainConfig, data: str | Path | Manifest, out: str | Path, *,
               on_step: Callable[..., None] | None = None):
    """Phase 2: the best settings on all the training data for `base.epochs` epochs, in `<out>/best/`
    (continued where it stopped when that folder already holds the run)."""
    from training.contrastive.trainer import Trainer

    config = best_config(study, base).replace(data_fraction=1.0)
    log.info("phase 2: best trial %d (objective %.2f): %s", study.best_trial.number, study.best_value,
             study.best_trial.params)
    return Trainer(config, data, Path(out) / "best", resume=True).fit(on_step=on_step)
