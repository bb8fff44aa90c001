"""The selection policy: thresholds, duplicates, quotas, featuring, and the reasons every decision carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from curation.selection import Candidate, PolicyError, SelectionPolicy, load_policy, select


def emb(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def cand(pid: int, aesthetic: float | None = 6.0, alignment: float | None = 0.3, *, theme: str | None = "reef",
         cluster: int | None = None, embedding: torch.Tensor | None = None, status: str = "generated") -> Candidate:
    return Candidate(piece_id=pid, slug=f"p{pid}", theme=theme, aesthetic=aesthetic, alignment=alignment,
                     cluster=cluster, embedding=embedding, status=status)


def by_id(verdicts):
    return {v.piece_id: v for v in verdicts}


def test_thresholds_pass_and_fail_with_reasons() -> None:
    policy = SelectionPolicy(min_aesthetic=5.0, min_alignment=0.2, featured_per_theme=0)
    v = by_id(select([cand(1, 6.2, 0.31), cand(2, 4.1, 0.31), cand(3, 6.2, 0.05), cand(4, None, None)], (), policy))
    assert v[1].decision == "accepted" and v[1].reasons == ("aesthetic 6.20 ≥ 5.00", "alignment 0.31 ≥ 0.20")
    assert v[2].decision == "rejected" and "aesthetic 4.10 < 5.00" in v[2].reasons
    assert v[3].decision == "rejected" and v[3].reasons == ("aesthetic 6.20 ≥ 5.00", "alignment 0.05 < 0.20")
    assert v[4].decision == "rejected" and v[4].reasons == ("no aesthetic score", "no alignment score")


def test_numbers_shown_agree_with_the_verdict() -> None:
    v = select([cand(1, 6.0, 0.1999)], (), SelectionPolicy(featured_per_theme=0))[0]
    assert v.decision == "rejected" and "alignment 0.1999 < 0.2000" in v.reasons
    v = select([cand(1, 5.0, 0.2)], (), SelectionPolicy(featured_per_theme=0))[0]
    assert v.decision == "accepted" and v.reasons == ("aesthetic 5.00 ≥ 5.00", "alignment 0.20 ≥ 0.20")


def test_near_duplicate_of_a_public_piece_is_rejected_with_its_slug() -> None:
    public = [cand(10, 7.0, embedding=emb(1, 0, 0), status="featured")]
    close = emb(1, 0.1, 0)  # cos 0.995
    far = emb(0, 1, 0)
    v = by_id(select([cand(1, embedding=close), cand(2, embedding=far)], public, SelectionPolicy()))
    assert v[1].decision == "rejected" and "near-duplicate of p10 (cos 0.995)" in v[1].reasons
    assert v[2].decision == "accepted"
    assert "not a near-duplicate (closest p10, cos 0.000 < 0.950)" in v[2].reasons


def test_of_two_duplicates_in_one_batch_the_better_is_kept() -> None:
    a, b = cand(1, 6.0, embedding=emb(1, 0)), cand(2, 8.0, embedding=emb(1, 0.01))
    v = by_id(select([a, b], (), SelectionPolicy(featured_per_theme=0)))
    assert v[2].decision == "accepted"
    assert v[1].decision == "rejected" and any(r.startswith("near-duplicate of p2 (cos 1.000)") for r in v[1].reasons)


def test_theme_quota_keeps_the_best() -> None:
    public = [cand(10, 9.0, theme="reef", status="accepted")]
    policy = SelectionPolicy(max_per_theme=2, featured_per_theme=0)
    v = by_id(select([cand(1, 6.0), cand(2, 7.0), cand(3, 5.5, theme="glacier")], public, policy))
    assert v[2].decision == "accepted" and "theme reef quota 2/2" in v[2].reasons
    assert v[1].decision == "rejected" and "theme reef quota full (2/2)" in v[1].reasons
    assert v[3].decision == "accepted" and "theme glacier quota 1/2" in v[3].reasons


def test_cluster_quota() -> None:
    policy = SelectionPolicy(max_per_cluster=1, featured_per_theme=0)
    v = by_id(select([cand(1, 6.0, cluster=0), cand(2, 7.0, cluster=0), cand(3, 6.0, cluster=1)], (), policy))
    assert (v[1].decision, v[2].decision, v[3].decision) == ("rejected", "accepted", "accepted")
    assert "cluster 0 quota full (1/1)" in v[1].reasons


def test_featured_is_top_k_per_theme_and_public_pieces_are_re_ranked() -> None:
    public = [cand(10, 6.5, status="featured"), cand(11, 6.0, theme="glacier", status="accepted")]
    new = [cand(1, 8.0), cand(2, 7.0), cand(3, 5.5), cand(4, 9.0, theme=None)]
    v = by_id(select(new, public, SelectionPolicy(featured_per_theme=2)))
    assert v[1].decision == "featured" and v[1].reasons[-1] == "featured: #1 of 4 in theme reef (aesthetic 8.00)"
    assert v[2].decision == "featured" and v[2].reasons[-1].startswith("featured: #2 of 4")
    assert v[3].decision == "accepted"
    assert v[4].decision == "featured" and "theme (no theme)" in v[4].reasons[-1]
    # the old featured reef piece drops out of the top 2; the lone glacier piece is promoted
    assert v[10].decision == "accepted" and v[10].changed_public
    assert v[10].reasons == ("no longer featured: outranked in theme reef (featured cut: p2)",)
    assert v[11].decision == "featured" and v[11].changed_public
    assert len(v) == 6


def test_unchanged_public_pieces_get_no_verdict() -> None:
    public = [cand(10, 9.0, status="featured")]
    verdicts = select([cand(1, 6.0)], public, SelectionPolicy())
    assert [(x.piece_id, x.decision) for x in verdicts] == [(1, "accepted")]


def test_policy_defaults_json_override_and_errors(tmp_path: Path) -> None:
    p = SelectionPolicy()
    assert (p.min_aesthetic, p.min_alignment, p.duplicate_cosine, p.featured_per_theme) == (5.0, 0.2, 0.95, 1)
    path = tmp_path / "selection.json"
    path.write_text(json.dumps({"min_aesthetic": 5.5, "max_per_theme": 12, "cluster_weights": [1, 0.5]}))
    loaded = SelectionPolicy.from_json(path)
    assert (loaded.min_aesthetic, loaded.max_per_theme, loaded.cluster_weights) == (5.5, 12, (1.0, 0.5))
    assert SelectionPolicy.from_dict(loaded.to_dict()) == loaded
    assert load_policy(studio_root=tmp_path) == loaded  # <studio>/selection.json
    assert load_policy(studio_root=tmp_path / "none") == SelectionPolicy()
    with pytest.raises(PolicyError, match="unknown field\\(s\\) min_beauty"):
        SelectionPolicy.from_dict({"min_beauty": 3})
    with pytest.raises(PolicyError, match="max_per_theme must be a positive integer"):
        SelectionPolicy(max_per_theme=0)
    with pytest.raises(PolicyError, match="min_aesthetic must be a number"):
        SelectionPolicy.from_dict({"min_aesthetic": "high"})
    path.write_text("{oops")
    with pytest.raises(PolicyError, match="not valid JSON"):
        SelectionPolicy.from_json(path)
    with pytest.raises(PolicyError, match="no selection policy file"):
        load_policy(tmp_path / "missing.json")
    with pytest.raises(Exception, match="frozen|cannot assign"):
        p.min_aesthetic = 1.0  # type: ignore[misc]
