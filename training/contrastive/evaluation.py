"""Seed 002's evaluation: image->text and text->image recall at 1 (and 5, 10), zero-shot top-1 accuracy on a
labelled set, and their mean as the objective. All figures are percentages (0-100), as in the seed's tables.

Recall counts a query as found when any of its positives is among the top k. Pairs whose captions are the same
string are positives of each other (two frogs both captioned "A frog." are equally right answers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)

RECALL_KS = (1, 5, 10)


def _hits(scores: Tensor, positives: Tensor, k: int) -> Tensor:
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    return positives.gather(1, top).any(dim=1)


def retrieval_recall(image_features: Tensor, text_features: Tensor, positives: Tensor | None = None,
                     ks: Sequence[int] = RECALL_KS) -> dict[str, float]:
    """Recall@k both ways for (N_img, D) and (N_txt, D) L2-normalised features.

    `positives` (N_img, N_txt) bool marks the right texts of each image; the default is the diagonal (pair i is
    image i with text i). Returns `i2t_r{k}` (image queries) and `t2i_r{k}` (text queries) in percent.
    """
    if image_features.ndim != 2 or text_features.ndim != 2 or image_features.shape[1] != text_features.shape[1]:
        raise ValueError(f"need (N_img, D) and (N_txt, D) features, got {tuple(image_features.shape)} and "
                         f"{tuple(text_features.shape)}")
    if positives is None:
        if image_features.shape[0] != text_features.shape[0]:
            raise ValueError("without `positives`, image i pairs with text i, so the counts must match; got "
                             f"{image_features.shape[0]} images and {text_features.shape[0]} texts")
        positives = torch.eye(image_features.shape[0], dtype=torch.bool, device=image_features.device)
    if positives.shape != (image_features.shape[0], text_features.shape[0]):
        raise ValueError(f"positives must be {(image_features.shape[0], text_features.shape[0])}, got "
                         f"{tuple(positives.shape)}")
    scores = image_features.float() @ text_features.float().T
    out: dict[str, float] = {}
    for k in ks:
        out[f"i2t_r{k}"] = 100.0 * _hits(scores, positives, k).float().mean().item()
    for k in ks:
        out[f"t2i_r{k}"] = 100.0 * _hits(scores.T, positives.T, k).float().mean().item()
    return out


def zero_shot_accuracy(image_features: Tensor, class_features: Tensor, labels: Tensor,
                       ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracy (percent) of classifying (N, D) images by their nearest of (C, D) class embeddings;
    `labels` (N,) holds class indices."""
    if labels.shape != (image_features.shape[0],):
        raise ValueError(f"labels must be ({image_features.shape[0]},), got {tuple(labels.shape)}")
    scores = image_features.float() @ class_features.float().T
    out = {}
    for k in ks:
        top = scores.topk(min(k, scores.shape[1]), dim=1).indices
        out[f"zeroshot_top{k}"] = 100.0 * (top == labels[:, None]).any(dim=1).float().mean().item()
    return out


def objective(metrics: dict[str, float]) -> float:
    """Seed 002's model-selection objective: the mean of i2t R@1, t2i R@1 and zero-shot top-1 (the two recalls
    alone where there are no labels)."""
    parts = [metrics["i2t_r1"], metrics["t2i_r1"]]
    if "zeroshot_top1" in metrics:
        parts.append(metrics["zeroshot_top1"])
    return sum(parts) / len(parts)


def caption_positives(captions: Sequence[str]) -> Tensor:
    """(N, N) bool: pair j's caption is a right answer for image i when it is the same string as caption i."""
    ids: dict[str, int] = {}
    codes = torch.tensor([ids.setdefault(c.strip().lower(), len(ids)) for c in captions])
    return codes[:, None] == codes[None, :]


@torch.no_grad()
def encode_dataset(model: nn.Module, dataset: torch.utils.data.Dataset, *, batch_size: int = 256,
                   device: torch.device | str = "cpu", autocast_dtype: torch.dtype | None = None
                   ) -> tuple[Tensor, Tensor]:
    """L2-normalised (N, D) image and text features of an `ImageTextDataset`, float32 on the CPU."""
    device = torch.device(device)
    images, texts = [], []
    n = len(dataset)  # type: ignore[arg-type]
    for start in range(0, n, batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, n))]
        pixels = torch.stack([it[0] for it in items]).to(device)
        tokens = torch.stack([it[1] for it in items]).to(device)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            images.append(F.normalize(model.encode_image(pixels).float(), dim=-1).cpu())
            texts.append(F.normalize(model.encode_text(tokens).float(), dim=-1).cpu())
    return torch.cat(images), torch.cat(texts)


@torch.no_grad()
def class_embeddings(model: nn.Module, tokenizer, class_names: Sequence[str], templates: Sequence[str], *,
                     device: torch.device | str = "cpu") -> Tensor:
    """(C, D): per class, the normalised mean of its normalised template embeddings (CLIP's prompt ensemble)."""
    device = torch.device(device)
    out = []
    for name in class_names:
        tokens = tokenizer([t.format(name) for t in templates]).to(device)
        feats = F.normalize(model.encode_text(tokens).float(), dim=-1).mean(dim=0)
        out.append(F.normalize(feats, dim=-1).cpu())
    return torch.stack(out)


def evaluate(model: nn.Module, dataset, tokenizer, *, templates: Sequence[str] = ("a picture of {}.",),
             batch_size: int = 256, device: torch.device | str = "cpu",
             autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """All of seed 002's metrics for an `ImageTextDataset`: recall both ways, zero-shot accuracy where every
    row has a label (with the majority-class rate beside it, the score of always guessing the commonest class),
    and the objective."""
    was_training = model.training
    model.eval()
    try:
        image_f, text_f = encode_dataset(model, dataset, batch_size=batch_size, device=device,
                                         autocast_dtype=autocast_dtype)
        metrics = retrieval_recall(image_f, text_f, caption_positives(dataset.captions))
        labels = dataset.labels
        if labels is not None:
            names = sorted(set(labels))
            targets = torch.tensor([names.index(lab) for lab in labels])
            class_f = class_embeddings(model, tokenizer, names, templates, device=device)
            metrics.update(zero_shot_accuracy(image_f, class_f, targets))
            metrics["zeroshot_classes"] = float(len(names))
            metrics["zeroshot_majority"] = 100.0 * max(labels.count(n) for n in names) / len(labels)
        metrics["objective"] = objective(metrics)
        metrics["pairs"] = float(len(dataset))
    finally:
        model.train(was_training)
    return metrics
