"""Loading scorers: our checkpoints (strictly), and `load_scorer(spec)` for every name a scorer goes by.

`load_scorer` builds a scorer from "tiny", a registry name of a public head (`curation.scorer.public`), a run folder,
a checkpoint folder or file, or a public head file. A checkpoint's head is rebuilt by its kind (`HEAD_KINDS`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from curation.scorer.errors import ScorerError
from curation.scorer.heads import DistributionHead, PublicHead, ScorerHead, load_public_head
from curation.scorer.model import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CONFIG_FILE,
    WEIGHTS_FILE,
    AestheticScorer,
    build_scorer,
)
from curation.scorer.public import PublicHeadEntry, fetch_public_head, public_head_entry, public_heads
from curation.scorer.text_head import LogitsPerTextHead
from curation.scorer.tower import TowerConfig, build_tower, parse_tower_spec
from generator.common.files import sha256_file

# the "type" in scorer.json -> the head class that rebuilds it
HEAD_KINDS: dict[str, type[ScorerHead]] = {cls.kind: cls for cls in (DistributionHead, PublicHead, LogitsPerTextHead)}


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> AestheticScorer:
    """Load one of our scorer folders (or its .safetensors / .json file) strictly."""
    from safetensors.torch import load_file

    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(f"{folder} is not a scorer checkpoint: it needs {CONFIG_FILE} and {WEIGHTS_FILE}")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("format") != CHECKPOINT_FORMAT:
        raise ScorerError(f"{config_path} is not a {CHECKPOINT_FORMAT} file (format {config.get('format')!r})")
    if int(config.get("format_version", 0)) > CHECKPOINT_VERSION:
        raise ScorerError(f"{config_path} has format_version {config['format_version']}; this code reads up to "
                          f"{CHECKPOINT_VERSION}: update dstrtd")
    tower = build_tower(TowerConfig.from_dict(config["tower"]))
    head_cfg = dict(config["head"])
    kind = head_cfg.pop("type")
    if kind not in HEAD_KINDS:
        raise ScorerError(f"{config_path}: unknown head type {kind!r}; known: {', '.join(HEAD_KINDS)}")
    head = HEAD_KINDS[kind].from_config(head_cfg)
    sha = sha256_file(weights_path)
    if config.get("weights_sha256") and config["weights_sha256"] != sha:
        raise ScorerError(f"{weights_path} has sha256 {sha}, but {config_path} expects {config['weights_sha256']}: "
                          "the two files do not belong together")
    scorer = AestheticScorer(tower, head, name=str(config.get("name", folder.name)),
                             version=str(config.get("version", sha[:12])), meta=config.get("meta"))
    state = load_file(str(weights_path))
    try:
        scorer.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ScorerError(f"{weights_path} does not match {config_path}: {' '.join(str(exc).split())}") from exc
    scorer.meta["weights_sha256"] = sha
    return scorer.to(device).eval()


def load_scorer(spec: str, device: torch.device | str = "cpu", *, tower_weights: str | None = None) -> AestheticScorer:
    """Load a scorer from a spec, in eval mode.

    - "tiny": a random tiny tower and head (seeded, the same every time): for tests and offline demos.
    - a folder: one of our checkpoints (scorer.json + scorer.safetensors), or a training run folder holding `scorer/`.
    - a file: our `scorer.safetensors`/`scorer.json`, or a public head .pth (its tower comes from the registry entry
      with the same sha256).
    - a registry name (laion-vit-b-32, simulacra, improved-l14, ...): head fetched through the cache, CLIP tower
      built with its pretrained weights through `generator.perceptors` (`tower_weights` = a local weights file for
      that CLIP model, e.g. OpenAI's ViT-B-32.pt, to stay offline).
    """
    path = Path(spec)
    if spec == "tiny":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            scorer = build_scorer("tiny", name="tiny", version="random-seed0")
        return scorer.to(device).eval()
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            return load_checkpoint(path, device)
        if (path / "scorer" / CONFIG_FILE).is_file():
            return load_checkpoint(path / "scorer", device)
        raise FileNotFoundError(f"{path} holds neither {CONFIG_FILE} nor scorer/{CONFIG_FILE}")
    if path.is_file():
        if path.name in (CONFIG_FILE, WEIGHTS_FILE) or path.suffix == ".safetensors":
            return load_checkpoint(path, device)
        sha = sha256_file(path)
        entry = next((e for e in public_heads().values() if e.sha256 == sha), None)
        if entry is None:
            raise ScorerError(f"{path} is not a registry head (unknown sha256 {sha[:12]}...), so its CLIP tower is "
                              f"unknown; add it to curation/scorer/public_heads/registry.json or build the scorer with "
                              "AestheticScorer(build_tower(...), load_public_head(path))")
        return _public_scorer(entry, path, device, tower_weights)
    if any(sep in spec for sep in ("/", "\\")) or spec.endswith((".pth", ".pt", ".safetensors", ".json")):
        raise FileNotFoundError(f"scorer file or folder not found: {spec}")
    entry = public_head_entry(spec)
    return _public_scorer(entry, fetch_public_head(entry.name), device, tower_weights)


def _public_scorer(entry: PublicHeadEntry, head_path: Path, device: torch.device | str,
                   tower_weights: str | None) -> AestheticScorer:
    head = load_public_head(head_path, entry.format)
    model, _ = parse_tower_spec(entry.clip)
    tower = build_tower(f"{model}:{tower_weights}" if tower_weights else entry.clip)
    scorer = AestheticScorer(tower, head, name=entry.name, version=entry.sha256[:12],
                             meta={"source": entry.source, "licence": entry.licence, "url": entry.url,
                                   "head_sha256": entry.sha256, "clip": entry.clip})
    return scorer.to(device).eval()
