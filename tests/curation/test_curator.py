"""The curator over a real studio: batched scoring, cached embeddings, clusters, decisions stored with reasons."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from PIL import Image

from curation.aligner import Aligner
from curation.catalog import Catalog
from curation.curator import AESTHETIC, Curator
from curation.selection import SelectionPolicy

WORDS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


class ColourEncoder:
    name, version, input_resolution = "colour", "1", 8

    def __init__(self) -> None:
        self.image_rows = 0

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        self.image_rows += images.shape[0]
        return torch.nn.functional.normalize(images.mean((2, 3)), dim=-1)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        vecs = [torch.tensor(next((v for w, v in WORDS.items() if w in t), (1.0, 1.0, 1.0))) for t in texts]
        return torch.nn.functional.normalize(torch.stack(vecs), dim=-1)


class RednessScorer(torch.nn.Module):
    """Aesthetic = 1 + 9 * mean red: a red piece is beautiful, a blue one is not."""

    name, version, image_size = "redness", "1", 8

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def score(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(images.shape[0])
        return 1 + 9 * images[:, 0].mean((1, 2))


def add(cat: Catalog, tmp: Path, name: str, rgb: tuple[int, int, int], prompt: str, theme: str | None) -> int:
    path = tmp / f"{name}.png"
    Image.new("RGB", (16, 12), rgb).save(path)
    return cat.add_piece({"image.png": path}, prompt=prompt, theme=theme, title=name).id


@pytest.fixture()
def filled(studio, tmp_path: Path):
    with studio.catalog() as cat:
        ids = {
            "red1": add(cat, tmp_path, "red1", (250, 10, 10), "red:1", "coral-reef"),
            "red2": add(cat, tmp_path, "red2", (245, 12, 12), "red:1", "coral-reef"),  # near-duplicate of red1
            "green": add(cat, tmp_path, "green", (140, 250, 10), "green:1", "glacier"),
            "blue": add(cat, tmp_path, "blue", (10, 10, 250), "red:1", "glacier"),  # ugly and off-prompt
        }
        yield cat, ids


def test_curate_scores_clusters_and_decides_with_reasons(filled) -> None:
    cat, ids = filled
    scorer, encoder = RednessScorer(), ColourEncoder()
    policy = SelectionPolicy(min_aesthetic=4.0, min_alignment=0.3, duplicate_cosine=0.99, n_clusters=3)
    curator = Curator(cat, scorer=scorer, aligner=Aligner(encoder, theme_weight=0.0), policy=policy, batch_size=3)
    rows = {r.slug.split("-")[0]: r for r in curator.curate()}
    assert scorer.batches == [3, 1]  # batched
    assert rows["red1"].decision == "featured"
    assert rows["red2"].decision == "rejected"
    assert any(r.startswith(f"near-duplicate of {cat.get_piece(ids['red1']).slug} (cos 1.000)")
               for r in rows["red2"].reasons)
    assert rows["green"].decision == "featured"  # the only public glacier piece
    assert rows["blue"].decision == "rejected"
    assert "aesthetic 1.35 < 4.00" in rows["blue"].reasons and "alignment 0.04 < 0.30" in rows["blue"].reasons
    # recorded: statuses, decisions with reasons, both scores with versions, clusters
    red1 = cat.get_piece(ids["red1"])
    assert red1.status == "featured" and red1.scores[AESTHETIC] == pytest.approx(rows["red1"].aesthetic)
    assert cat.decisions(ids["blue"])[-1].reasons == rows["blue"].reasons
    assert {s.version for s in cat.scores(ids["green"])} == {"redness@1", "colour@1"}
    clusters = cat.clusters()
    assert clusters[ids["red1"]] == clusters[ids["red2"]] != clusters[ids["green"]]
    assert len(set(clusters.values())) == 3
    # image embeddings are cached by sha256 and reused
    assert len(list(curator.cache.folder.glob("*.npy"))) == 4
    before = encoder.image_rows
    curator.cluster(cat.list_pieces())
    assert encoder.image_rows == before


def test_a_second_curation_does_not_rescore_and_re_ranks_featured(filled, tmp_path: Path) -> None:
    cat, ids = filled
    scorer = RednessScorer()
    curator = Curator(cat, scorer=scorer, aligner=Aligner(ColourEncoder()),
                      policy=SelectionPolicy(min_aesthetic=4.0, min_alignment=0.0, duplicate_cosine=0.999))
    curator.curate()
    n_batches = len(scorer.batches)
    assert curator.curate() == []  # nothing left 'generated'
    assert len(scorer.batches) == n_batches
    new = add(cat, tmp_path, "redder", (255, 0, 0), "red:1", "coral-reef")
    rows = curator.curate()
    by_id = {r.piece_id: r for r in rows}
    assert by_id[new].decision == "featured"
    assert by_id[ids["red1"]].decision == "accepted"  # demoted, with why
    assert by_id[ids["red1"]].reasons[0].startswith("no longer featured: outranked in theme coral-reef")
    assert cat.get_piece(ids["red1"]).status == "accepted"
    assert len(cat.scores(ids["red1"])) == 2  # aesthetic + alignment once, not again


def test_a_changed_scorer_version_scores_again(filled) -> None:
    cat, ids = filled
    curator = Curator(cat, scorer=RednessScorer(), aligner=Aligner(ColourEncoder()))
    curator.score(cat.list_pieces())
    assert curator.score(cat.list_pieces()) == 0
    newer = RednessScorer()
    newer.version = "2"
    assert Curator(cat, scorer=newer, aligner=Aligner(ColourEncoder())).score(cat.list_pieces()) == 4


def test_scoring_reports_progress_per_batch(filled) -> None:
    cat, _ = filled
    calls: list[tuple[int, int]] = []
    curator = Curator(cat, scorer=RednessScorer(), aligner=Aligner(ColourEncoder()), batch_size=3)
    curator.curate(progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 4), (4, 4)]
    calls.clear()
    assert curator.score(cat.list_pieces(), progress=lambda d, t: calls.append((d, t))) == 0
    assert calls == []  # nothing left to score: no bar to move


def test_a_scorer_on_the_encoders_tower_reuses_its_embeddings(filled) -> None:
    cat, _ = filled

    class HeadOnly(RednessScorer):
        meta = {"clip": "colour"}  # the same CLIP as the encoder's name

        def score(self, images):
            raise AssertionError("the tower should not run twice")

        def score_embeddings(self, embeddings):
            return 1 + 9 * embeddings[:, 0]

    curator = Curator(cat, scorer=HeadOnly(), aligner=Aligner(ColourEncoder()))
    assert curator.shares_tower
    assert curator.score(cat.list_pieces()) == 4
    red = cat.list_pieces()[0]
    assert red.scores[AESTHETIC] > 9 and cat.scores(red.id)[0].details["shared_tower"] is True
    assert not Curator(cat, scorer=RednessScorer(), aligner=Aligner(ColourEncoder())).shares_tower
