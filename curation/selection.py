"""The selection policy: which generated pieces the public sees, and why.

`select` is pure: it takes candidates (new pieces with their scores, cluster and embedding) and the pieces already
public, applies thresholds, near-duplicate rejection and quotas, then features the top pieces of each theme. Every
verdict carries its reasons in words ("aesthetic 6.20 ≥ 5.00", "near-duplicate of coral-reef-ab12cd (cos 0.991)"),
which the caller stores with `Catalog.decide`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from curation.dedup import cosine_matrix
from curation.errors import CurationError
from generator.common.fields import known_keys

NO_THEME = "(no theme)"


class PolicyError(CurationError):
    """A selection policy that cannot be used; the message names the field."""


@dataclass(frozen=True)
class SelectionPolicy:
    min_aesthetic: float = 5.0  # why: LAION's aesthetic predictor rates the average web image about 5 of 10
    min_alignment: float = 0.20  # why: CLIP ViT-B/32 cosines run ~0.25-0.35 for matching captions, ~0.10-0.15 not
    duplicate_cosine: float = 0.95  # why: re-encodings and near-identical seeds sit above it, distinct images below
    max_per_theme: int | None = None  # most public (accepted + featured) pieces per theme; None: no quota
    max_per_cluster: int | None = None  # most public pieces per cluster; None: no quota
    featured_per_theme: int = 1  # the top-k public pieces of each theme by aesthetic score are featured
    n_clusters: int | None = None  # None: auto, round(sqrt(n / 2)) capped at max_clusters
    max_clusters: int = 12
    cluster_weights: tuple[float, float] = (1.0, 1.0)  # (image, prompt) weights of the fused embedding
    seed: int = 0  # k-means seed

    def __post_init__(self) -> None:
        for name in ("max_per_theme", "max_per_cluster", "n_clusters"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise PolicyError(f"selection policy: {name} must be a positive integer or null, got {value!r}")
        if not isinstance(self.featured_per_theme, int) or self.featured_per_theme < 0:
            raise PolicyError(f"selection policy: featured_per_theme must be ≥ 0, got {self.featured_per_theme!r}")
        if not -1.0 <= float(self.duplicate_cosine) <= 1.0:
            raise PolicyError(f"selection policy: duplicate_cosine lies in [-1, 1], got {self.duplicate_cosine!r}")
        if len(self.cluster_weights) != 2 or min(self.cluster_weights) < 0:
            raise PolicyError(f"selection policy: cluster_weights is two non-negative numbers (image, prompt), "
                              f"got {self.cluster_weights!r}")
        if self.max_clusters < 1:
            raise PolicyError(f"selection policy: max_clusters must be ≥ 1, got {self.max_clusters!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["cluster_weights"] = list(self.cluster_weights)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "selection policy") -> SelectionPolicy:
        values = known_keys(data, cls, PolicyError, "field(s)", where)
        if "cluster_weights" in values:
            values["cluster_weights"] = tuple(float(w) for w in values["cluster_weights"])
        for name in ("min_aesthetic", "min_alignment", "duplicate_cosine"):
            if name in values and not isinstance(values[name], int | float):
                raise PolicyError(f"{where}: {name} must be a number, got {values[name]!r}")
        return dataclasses.replace(cls(), **values)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> SelectionPolicy:
        """Defaults overridden by the fields of a JSON object file, e.g. `{"min_aesthetic": 5.5}`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PolicyError(f"no selection policy file at {path}") from None
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: a selection policy is a JSON object of fields")
        return cls.from_dict(data, where=str(path))


POLICY_NAME = "selection.json"


def load_policy(path: str | os.PathLike[str] | None = None, studio_root: str | os.PathLike[str] | None = None
                ) -> SelectionPolicy:
    """`path` if given, else `<studio>/selection.json` where it exists, else the defaults."""
    if path is not None:
        return SelectionPolicy.from_json(path)
    if studio_root is not None and (Path(studio_root) / POLICY_NAME).is_file():
        return SelectionPolicy.from_json(Path(studio_root) / POLICY_NAME)
    return SelectionPolicy()


@dataclass(frozen=True)
class Candidate:
    piece_id: int
    slug: str
    theme: str | None
    aesthetic: float | None
    alignment: float | None
    cluster: int | None = None
    embedding: Tensor | None = field(default=None, compare=False, repr=False)  # (D,) image embedding, for dedup
    status: str = "generated"


@dataclass(frozen=True)
class Verdict:
    piece_id: int
    slug: str
    decision: str  # accepted | rejected | featured
    reasons: tuple[str, ...]
    changed_public: bool = False  # True for an already public piece whose status the featuring changed


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _compare(name: str, value: float, threshold: float) -> tuple[bool, str]:
    ok = value >= threshold
    digits = 2
    # Print enough digits that the numbers shown agree with the verdict (0.199 is not "0.20 < 0.20").
    while digits < 6 and (float(_fmt(value, digits)) >= float(_fmt(threshold, digits))) != ok:
        digits += 1
    sign = "≥" if ok else "<"
    return ok, f"{name} {_fmt(value, digits)} {sign} {_fmt(threshold, digits)}"


def _theme_key(theme: str | None) -> str:
    return theme if theme else NO_THEME


def _rank_key(c: Candidate) -> tuple[float, float, int]:
    return (-(c.aesthetic if c.aesthetic is not None else float("-inf")),
            -(c.alignment if c.alignment is not None else float("-inf")), c.piece_id)


@dataclass
class _Pool:
    """The public pieces as selection goes: counts per theme and cluster, embeddings to compare against."""

    members: list[Candidate] = field(default_factory=list)
    theme_counts: Counter[str] = field(default_factory=Counter)
    cluster_counts: Counter[int] = field(default_factory=Counter)
    embeddings: list[Tensor] = field(default_factory=list)
    embedding_slugs: list[str] = field(default_factory=list)

    def add(self, c: Candidate) -> None:
        self.members.append(c)
        self.theme_counts[_theme_key(c.theme)] += 1
        if c.cluster is not None:
            self.cluster_counts[c.cluster] += 1
        if c.embedding is not None:
            self.embeddings.append(c.embedding.flatten())
            self.embedding_slugs.append(c.slug)


def _check_scores(c: Candidate, policy: SelectionPolicy) -> tuple[bool, list[str]]:
    ok, reasons = True, []
    for name, value, threshold in (("aesthetic", c.aesthetic, policy.min_aesthetic),
                                   ("alignment", c.alignment, policy.min_alignment)):
        if value is None:
            ok = False
            reasons.append(f"no {name} score")
        else:
            passed, text = _compare(name, value, threshold)
            ok &= passed
            reasons.append(text)
    return ok, reasons


def _check_duplicates(c: Candidate, pool: _Pool, policy: SelectionPolicy) -> tuple[bool, list[str]]:
    if c.embedding is None or not pool.embeddings:
        return True, []
    sims = cosine_matrix(c.embedding.flatten()[None], torch.stack(pool.embeddings))[0]
    j = int(sims.argmax())
    cos = float(sims[j])
    if cos >= policy.duplicate_cosine:
        return False, [f"near-duplicate of {pool.embedding_slugs[j]} (cos {cos:.3f})"]
    return True, [f"not a near-duplicate (closest {pool.embedding_slugs[j]}, cos {cos:.3f} "
                  f"< {policy.duplicate_cosine:.3f})"]


def _check_quotas(c: Candidate, pool: _Pool, policy: SelectionPolicy) -> tuple[bool, list[str]]:
    ok, reasons = True, []
    theme = _theme_key(c.theme)
    if policy.max_per_theme is not None:
        n = pool.theme_counts[theme]
        if n >= policy.max_per_theme:
            ok = False
            reasons.append(f"theme {theme} quota full ({n}/{policy.max_per_theme})")
        else:
            reasons.append(f"theme {theme} quota {n + 1}/{policy.max_per_theme}")
    if policy.max_per_cluster is not None and c.cluster is not None:
        n = pool.cluster_counts[c.cluster]
        if n >= policy.max_per_cluster:
            ok = False
            reasons.append(f"cluster {c.cluster} quota full ({n}/{policy.max_per_cluster})")
        else:
            reasons.append(f"cluster {c.cluster} quota {n + 1}/{policy.max_per_cluster}")
    return ok, reasons


def _judge(c: Candidate, pool: _Pool, policy: SelectionPolicy) -> tuple[bool, list[str]]:
    """Whether `c` passes every check against the pool so far, and one reason per check, passed or not."""
    ok, reasons = True, []
    for passed, why in (_check_scores(c, policy), _check_duplicates(c, pool, policy), _check_quotas(c, pool, policy)):
        ok &= passed
        reasons += why
    return ok, reasons


def _feature(pool: _Pool, policy: SelectionPolicy) -> tuple[dict[int, str], dict[str, Candidate]]:
    """The top `featured_per_theme` public pieces of each theme (piece id -> why), and each theme's last featured
    piece where others were left out (to say who outranked a piece that is featured no more)."""
    featured: dict[int, str] = {}
    by_theme: dict[str, list[Candidate]] = {}
    for c in pool.members:
        by_theme.setdefault(_theme_key(c.theme), []).append(c)
    for theme, members in by_theme.items():
        ranked = sorted(members, key=_rank_key)
        for rank, c in enumerate(ranked[:policy.featured_per_theme], start=1):
            score = f"aesthetic {c.aesthetic:.2f}" if c.aesthetic is not None else "no aesthetic score"
            featured[c.piece_id] = f"featured: #{rank} of {len(ranked)} in theme {theme} ({score})"
    cut = {theme: sorted(members, key=_rank_key)[policy.featured_per_theme - 1]
           for theme, members in by_theme.items()
           if policy.featured_per_theme and len(members) > policy.featured_per_theme}
    return featured, cut


def _public_changes(public: Sequence[Candidate], featured: dict[int, str], cut: dict[str, Candidate]
                    ) -> list[Verdict]:
    """Verdicts for the public pieces whose status the featuring changes, with why."""
    verdicts = []
    for c in public:
        if c.status not in ("accepted", "featured"):
            continue
        if c.piece_id in featured and c.status != "featured":
            verdicts.append(Verdict(c.piece_id, c.slug, "featured", (featured[c.piece_id],), changed_public=True))
        elif c.piece_id not in featured and c.status == "featured":
            theme = _theme_key(c.theme)
            top = cut.get(theme)
            why = (f"no longer featured: outranked in theme {theme} (featured cut: {top.slug})" if top is not None
                   else f"no longer featured in theme {theme}")
            verdicts.append(Verdict(c.piece_id, c.slug, "accepted", (why,), changed_public=True))
    return verdicts


def select(candidates: Sequence[Candidate], public: Sequence[Candidate] = (),
           policy: SelectionPolicy | None = None) -> list[Verdict]:
    """Decide on `candidates` given the pieces already `public` (accepted or featured).

    Candidates are considered best first (aesthetic, then alignment), so quotas keep the best. A candidate is
    accepted when it passes every check; each check adds a reason whether it passes or not. Then the top
    `featured_per_theme` public pieces of each theme (by aesthetic) are featured. Returns one verdict per candidate
    (in the order given) plus one for every public piece whose status the featuring changes.
    """
    policy = policy or SelectionPolicy()
    pool = _Pool()
    for c in public:
        if c.status in ("accepted", "featured"):
            pool.add(c)
    reasons_of: dict[int, list[str]] = {}
    accepted: set[int] = set()
    for c in sorted(candidates, key=_rank_key):
        ok, reasons_of[c.piece_id] = _judge(c, pool, policy)
        if ok:
            accepted.add(c.piece_id)
            pool.add(c)
    featured, cut = _feature(pool, policy)
    verdicts = []
    for c in candidates:
        reasons = tuple(reasons_of[c.piece_id])
        if c.piece_id not in accepted:
            verdicts.append(Verdict(c.piece_id, c.slug, "rejected", reasons))
        elif c.piece_id in featured:
            verdicts.append(Verdict(c.piece_id, c.slug, "featured", (*reasons, featured[c.piece_id])))
        else:
            verdicts.append(Verdict(c.piece_id, c.slug, "accepted", reasons))
    return verdicts + _public_changes(public, featured, cut)
