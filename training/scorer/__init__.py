"""How the aesthetic scorer is made: rated data, losses, the seed 000 schedule, the trainer, metrics and plots.

- `data`: ratings files (CSV/JSONL, votes or means, groups) and rating folders; splits; a Dataset that never crashes
  an epoch on a bad image.
- `losses`: EMD, mixed (L1+L2+L3), MSE, L1, Huber, log-cosh, MAPE; per-sample weights to balance groups.
- `schedule`: named JSON schedules (`schedules/seed000.json` is seed 000's recipe); head-only stages (seed 001).
- `config`: `TrainConfig`, the settings of a run (the CLI's options come from its fields).
- `setup`: what a run is built from (schedule, data, model, per-stage optimizers); `trainer`: the epoch loop,
  `train_scorer(TrainConfig(...))`, run folder, exact resume (`training.runstate`). `metrics`, `plots`, `synthetic`
  (the proof).
- heads: `head="distribution"` (default, a linear/MLP head) or `head="logits-per-text"`, seed 000's variant: a softmax
  over CLIP's logits against ten rating prompts (`rating_prompts`, `learn_prompts`; see `curation.scorer.text_head`).

Import the submodules; this package itself loads nothing heavy.
"""
