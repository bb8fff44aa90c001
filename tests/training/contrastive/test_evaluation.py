"""Recall@k, zero-shot accuracy and the objective on constructed embeddings whose answers are known."""

from __future__ import annotations

import pytest
import torch

from training.contrastive.evaluation import caption_positives, objective, retrieval_recall, zero_shot_accuracy


def test_perfect_alignment_gives_full_recall() -> None:
    x = torch.eye(6)
    r = retrieval_recall(x, x.clone())
    assert r == {"i2t_r1": 100.0, "i2t_r5": 100.0, "i2t_r10": 100.0, "t2i_r1": 100.0, "t2i_r5": 100.0,
                 "t2i_r10": 100.0}


def test_known_ranks() -> None:
    # text i sits closest to image (i + 1) % 4 and second closest to image i: R@1 = 0, R@2 = 100 both ways
    images = torch.eye(4)
    texts = torch.stack([0.6 * images[i] + 0.8 * images[(i + 1) % 4] for i in range(4)])
    r = retrieval_recall(images, texts, ks=(1, 2))
    assert r["i2t_r1"] == 0.0 and r["t2i_r1"] == 0.0
    assert r["i2t_r2"] == 100.0 and r["t2i_r2"] == 100.0


def test_half_right() -> None:
    # pairs 0 and 1 are swapped, 2 and 3 are right: R@1 is 50% both ways
    images = torch.eye(4)
    texts = images[[1, 0, 2, 3]]
    r = retrieval_recall(images, texts, ks=(1,))
    assert r == {"i2t_r1": 50.0, "t2i_r1": 50.0}


def test_duplicate_captions_count_as_positives() -> None:
    positives = caption_positives(["A frog.", "a frog.", "A bird."])
    assert positives.tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    images = torch.eye(3)
    texts = images[[1, 0, 2]]  # image 0 finds text 1, which says the same as its own
    assert retrieval_recall(images, texts, positives, ks=(1,))["i2t_r1"] == 100.0


def test_zero_shot_accuracy_and_objective() -> None:
    classes = torch.eye(3)
    images = torch.stack([classes[0], classes[1], classes[2], classes[0]])
    labels = torch.tensor([0, 1, 1, 0])
    acc = zero_shot_accuracy(images, classes, labels, ks=(1, 2))
    assert acc["zeroshot_top1"] == 75.0
    assert objective({"i2t_r1": 30.0, "t2i_r1": 60.0, "zeroshot_top1": 90.0}) == pytest.approx(60.0)
    assert objective({"i2t_r1": 30.0, "t2i_r1": 60.0}) == pytest.approx(45.0)


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(3, 5\)"):
        retrieval_recall(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="counts must match"):
        retrieval_recall(torch.zeros(3, 4), torch.zeros(2, 4))
