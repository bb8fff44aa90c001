"""Curating a studio's pieces: score (aesthetic), align, embed, cluster, deduplicate, decide and record.

`Curator` ties the curators to the catalog. Scores are computed in batches and stored with `Catalog.add_score`
(curator "aesthetic" and "alignment", with the model and version); image embeddings are cached under
`<studio>/cache/embeddings/<encoder>/`. Clustering, selection and the decisions run under a file lock, so two
workers on one machine never accept two near-duplicates of each other at the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from curation.aligner import Aligner
from curation.catalog import Catalog, Piece, Theme
from curation.clusters import auto_k, fuse, kmeans
from curation.defaults import DEFAULT_ENCODER, DEFAULT_SCORER, check_curators
from curation.embeddings import EmbeddingCache, encoder_key, load_encoder, load_images
from curation.selection import Candidate, SelectionPolicy, Verdict, select
from generator.common.device import resolve_device
from generator.common.files import file_lock
from generator.common.prompts import read_prompts

log = logging.getLogger(__name__)

AESTHETIC = "aesthetic"
ALIGNMENT = "alignment"
CLUSTER_RUN = "fused"
SCORE_RESOLUTION = 224  # why: the input size of the ViT-B/32 and ViT-L/14 towers; smaller towers resize down

ScoreFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class CurationRow:
    piece_id: int
    slug: str
    theme: str | None
    aesthetic: float | None
    alignment: float | None
    cluster: int | None
    decision: str
    reasons: tuple[str, ...]


def _module_device(module: Any) -> torch.device:
    try:
        return next(iter(module.parameters())).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def scorer_version(scorer: Any) -> str:
    name, version = getattr(scorer, "name", type(scorer).__name__), getattr(scorer, "version", "")
    return f"{name}@{version}" if version else str(name)


def load_scorer(spec: str = DEFAULT_SCORER, device: str | torch.device = "cpu") -> Any:
    """`curation.scorer.checkpoint.load_scorer`, imported when first needed."""
    from curation.scorer.checkpoint import load_scorer as _load

    return _load(spec, device=resolve_device(device))


class Curator:
    """Scores and decides on a catalog's pieces. `scorer` is an `AestheticScorer` (anything with `score(images)`)."""

    def __init__(self, catalog: Catalog, *, scorer: Any, aligner: Aligner, policy: SelectionPolicy | None = None,
                 batch_size: int = 16, cache: EmbeddingCache | None = None) -> None:
        self.catalog = catalog
        self.scorer = scorer
        self.aligner = aligner
        self.policy = policy or SelectionPolicy()
        self.batch_size = int(batch_size)
        self.cache = cache or EmbeddingCache(catalog.root / "cache" / "embeddings" / encoder_key(aligner.encoder))
        self._lock_path = catalog.root / "cache" / "curate.lock"

    @classmethod
    def load(cls, catalog: Catalog, *, scorer: str = DEFAULT_SCORER, encoder: str = DEFAULT_ENCODER,
             policy: SelectionPolicy | None = None, device: str = "cpu", batch_size: int = 16,
             allow_random: bool = False) -> Curator:
        """Load the curators by name (`curation.defaults`); curators with random weights (`tiny`) are refused unless
        `allow_random` (the demo and tests), before anything loads."""
        check_curators(scorer, encoder, allow_random=allow_random)
        resolved = resolve_device(device)
        return cls(catalog, scorer=load_scorer(scorer, resolved), aligner=Aligner(load_encoder(encoder, resolved)),
                   policy=policy, batch_size=batch_size)

    @property
    def scorer_version(self) -> str:
        return scorer_version(self.scorer)

    @property
    def shares_tower(self) -> bool:
        """True when the scorer's CLIP tower is the aligner's encoder (e.g. laion-vit-b-32 on ViT-B-32:openai): the
        scorer's head then reads the encoder's embeddings and each image goes through CLIP once, not twice."""
        clip = (getattr(self.scorer, "meta", None) or {}).get("clip")
        return bool(clip) and clip == self.aligner.encoder.name and hasattr(self.scorer, "score_embeddings")

    # -- scoring ----------------------------------------------------------------------------------------------------

    def _theme_prompts(self) -> dict[str, tuple[str, ...]]:
        return {t.name: t.prompts for t in self.catalog.list_themes()}

    def _needs_scores(self, piece: Piece) -> bool:
        latest: dict[str, str] = {}
        for s in self.catalog.scores(piece.id):
            latest[s.curator] = s.version
        return latest.get(AESTHETIC) != self.scorer_version or latest.get(ALIGNMENT) != self.aligner.version

    def _resolution(self) -> int:
        size = getattr(self.scorer, "image_size", None)
        return max(SCORE_RESOLUTION if size is None else int(size), int(self.aligner.encoder.input_resolution))

    def score(self, pieces: Sequence[Piece], *, rescore: bool = False,
              progress: Callable[[int, int], None] | None = None) -> int:
        """Score pieces lacking scores from the current scorer and encoder (or all with `rescore`); returns how many.

        Each batch is loaded once and goes through the aesthetic scorer and the encoder; its image embeddings are
        cached for clustering and deduplication. `progress(done, total)` is called after each batch.
        """
        todo = [p for p in pieces if rescore or self._needs_scores(p)]
        themes = self._theme_prompts()
        resolution = self._resolution()
        device = _module_device(self.scorer)
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            images = load_images([self.catalog.abspath(p.file) for p in batch], resolution)
            feats = self.aligner.encoder.encode_images(images)
            with torch.inference_mode():
                if self.shares_tower:  # one CLIP forward pass serves both curators
                    aesthetic = self.scorer.score_embeddings(feats.to(device)).float().cpu()
                else:
                    aesthetic = self.scorer.score(images.to(device)).float().cpu()
            for p, f in zip(batch, feats, strict=True):
                self.cache.put(p.sha256, f)
            alignments = self.aligner.align_features(
                feats, [p.prompt for p in batch], [themes.get(p.theme, ()) if p.theme else () for p in batch])
            for p, a_value, al in zip(batch, aesthetic.tolist(), alignments, strict=True):
                self.catalog.add_score(p.id, AESTHETIC, a_value, version=self.scorer_version,
                                       details={"scorer": self.scorer_version, "shared_tower": self.shares_tower})
                if al.value is not None:
                    self.catalog.add_score(p.id, ALIGNMENT, al.value, version=self.aligner.version,
                                           details=al.details)
            log.debug("scored %d/%d pieces", min(start + len(batch), len(todo)), len(todo))
            if progress is not None:
                progress(min(start + len(batch), len(todo)), len(todo))
        return len(todo)

    def image_embeddings(self, pieces: Sequence[Piece]) -> Tensor:
        """(N, D) image embeddings from the cache, computing (in batches) those missing."""
        found: dict[int, Tensor] = {}
        missing = []
        for p in pieces:
            emb = self.cache.get(p.sha256)
            if emb is None:
                missing.append(p)
            else:
                found[p.id] = emb
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start:start + self.batch_size]
            images = load_images([self.catalog.abspath(p.file) for p in batch], self.aligner.encoder.input_resolution)
            for p, f in zip(batch, self.aligner.encoder.encode_images(images), strict=True):
                self.cache.put(p.sha256, f)
                found[p.id] = f
        if not pieces:
            return torch.zeros(0, 0)
        return torch.stack([found[p.id] for p in pieces])

    def text_embeddings(self, pieces: Sequence[Piece], themes: dict[str, Theme] | None = None) -> Tensor:
        """(N, D) prompt embeddings: the piece's own prompt, else its theme's prompts, else zeros."""
        themes = themes if themes is not None else {t.name: t for t in self.catalog.list_themes()}
        rows: list[Tensor | None] = []
        for p in pieces:
            emb = self.aligner.prompt_features(p.prompt) if read_prompts(p.prompt) else None
            if emb is None and p.theme and p.theme in themes:
                emb = self.aligner.prompt_features(themes[p.theme].prompts)
            rows.append(emb)
        dim = next((r.shape[0] for r in rows if r is not None), 0)
        if dim == 0:
            dim = int(self.aligner.text_features(["a picture"]).shape[1])
        return torch.stack([r if r is not None else torch.zeros(dim) for r in rows]) if rows else torch.zeros(0, dim)

    # -- clustering and decisions -----------------------------------------------------------------------------------

    def cluster(self, pieces: Sequence[Piece], image_embeddings: Tensor | None = None) -> dict[int, int]:
        """k-means over fused image ⊕ prompt embeddings of `pieces`; stores and returns piece id -> label.
        `image_embeddings` (N, D), when the caller already has them, saves reading the cache again."""
        if not pieces:
            return {}
        images = image_embeddings if image_embeddings is not None else self.image_embeddings(pieces)
        fused = fuse(images, self.text_embeddings(pieces), self.policy.cluster_weights)
        k = self.policy.n_clusters or auto_k(len(pieces), self.policy.max_clusters)
        result = kmeans(fused, min(k, len(pieces)), seed=self.policy.seed)
        labels = {p.id: int(lab) for p, lab in zip(pieces, result.labels.tolist(), strict=True)}
        distances = {p.id: float(d) for p, d in zip(pieces, result.distances.tolist(), strict=True)}
        self.catalog.set_clusters(CLUSTER_RUN, labels, distances)
        return labels

    def curate(self, pieces: Sequence[Piece] | None = None, *, rescore: bool = False,
               progress: Callable[[int, int], None] | None = None) -> list[CurationRow]:
        """Score, cluster and decide on those of `pieces` still 'generated' (default: all such); records every decision
        with its reasons and returns one row per piece decided (featuring changes to public pieces included).
        `progress(done, total)` follows the scoring, the long part."""
        candidates_p = list(pieces) if pieces is not None else self.catalog.list_pieces("generated")
        self.score(candidates_p, rescore=rescore, progress=progress)
        with file_lock(self._lock_path, what="the curation of this studio"):
            ids = {p.id for p in candidates_p}
            # another worker may have decided some meanwhile: only those still waiting are candidates
            candidates_p = [p for p in (self.catalog.get_piece(i) for i in sorted(ids))
                            if p is not None and p.status == "generated"]
            public_p = [p for p in self.catalog.list_pieces(("accepted", "featured")) if p.id not in ids]
            everyone = public_p + candidates_p
            embs = self.image_embeddings(everyone)
            labels = self.cluster(everyone, embs)
            emb_of = {p.id: e for p, e in zip(everyone, embs, strict=True)} if everyone else {}

            def candidate(p: Piece) -> Candidate:
                return Candidate(piece_id=p.id, slug=p.slug, theme=p.theme, aesthetic=p.scores.get(AESTHETIC),
                                 alignment=p.scores.get(ALIGNMENT), cluster=labels.get(p.id),
                                 embedding=emb_of.get(p.id), status=p.status)

            verdicts = select([candidate(p) for p in candidates_p], [candidate(p) for p in public_p], self.policy)
            self._record(verdicts)
        by_id = {p.id: p for p in everyone}
        rows = []
        for v in verdicts:
            p = by_id[v.piece_id]
            rows.append(CurationRow(p.id, p.slug, p.theme, p.scores.get(AESTHETIC), p.scores.get(ALIGNMENT),
                                    labels.get(p.id), v.decision, v.reasons))
        return rows

    def _record(self, verdicts: Sequence[Verdict]) -> None:
        for v in verdicts:
            self.catalog.decide(v.piece_id, v.decision, v.reasons)
            log.info("%s %s: %s", v.slug, v.decision, "; ".join(v.reasons))
