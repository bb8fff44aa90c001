"""The aesthetic scorer: a CLIP image tower and a head that predicts a distribution over ratings 1..10.

- `tower`: the open_clip image tower with CLIP's preprocessing inside (`build_tower`, `TowerConfig`).
- `heads`: the `ScorerHead` protocol, our `DistributionHead` and the public regressors' `PublicHead`;
  `text_head`: seed 000's logits-per-text head on CLIP's text side.
- `public`: the registry of public heads (`public_heads/registry.json`) and their download into the cache.
- `model`: `AestheticScorer` (tower + head) and its checkpoint format; `checkpoint`: `load_scorer(spec)`, which
  builds a scorer from "tiny", a registry name, a run folder, a checkpoint folder or file, or a public head file.
- `ratings`: the rating scale (1..10, `distribution_mean`); `errors`: `ScorerError`, `ScorerWeightsUnavailable`.

Nothing here downloads unless a name that needs a download is asked for, and then only through `generator.weights`
/ `generator.perceptors` into the cache at $DSTRTD_CACHE (else ~/.cache/dstrtd).
"""
