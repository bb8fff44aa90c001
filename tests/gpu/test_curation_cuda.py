"""The curators on CUDA give what they give on the CPU: the tiny aesthetic scorer and the tiny aligner."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from curation.aligner import load_aligner
from curation.scorer.checkpoint import load_scorer

from .conftest import GPU, ON_CUDA, half_dtype

pytestmark = GPU


def _images() -> torch.Tensor:
    # 40 x 48: not the tower's size, so the resize and centre crop run on the device too
    return torch.rand(6, 3, 40, 48, generator=torch.Generator().manual_seed(0))


def test_aesthetic_scorer_scores_as_on_the_cpu(device):
    cpu, gpu = load_scorer("tiny", "cpu"), load_scorer("tiny", device)
    assert all(p.device.type == device.type for p in gpu.parameters())
    assert all(b.device.type == device.type for b in gpu.buffers())
    images = _images()
    with torch.no_grad():
        want_probs, want = cpu(images), cpu.score(images)
        got_probs, got = gpu(images.to(device)), gpu.score(images.to(device))
        got_emb, want_emb = gpu.embed(images.to(device)).cpu(), cpu.embed(images)
    assert got.shape == (6,) and got.device.type == device.type
    # CUDA runs the patch-embedding convolution in TF32 by default (10-bit mantissa): close, not equal
    torch.testing.assert_close(got.cpu(), want, rtol=0, atol=5e-3)
    torch.testing.assert_close(got_probs.cpu(), want_probs, rtol=0, atol=1e-3)
    assert torch.nn.functional.cosine_similarity(got_emb, want_emb).min() > 0.999


def test_score_images_takes_pil_and_returns_cpu_scores(device):
    scorer = load_scorer("tiny", device)
    pictures = [Image.new("RGB", (50 + 7 * i, 40), (30 * i, 120, 200 - 20 * i)) for i in range(5)]
    scores = scorer.score_images(pictures, batch_size=2)
    want = load_scorer("tiny", "cpu").score_images(pictures, batch_size=2)
    assert scores.device.type == "cpu" and scores.shape == (5,)
    assert ((scores >= 1) & (scores <= 10)).all()
    torch.testing.assert_close(scores, want, rtol=0, atol=5e-3)


def test_scoring_under_a_callers_autocast_works(device):
    """No curator runs autocast itself; a caller (the studio on a GPU) may, and the dtypes must still meet."""
    if not ON_CUDA:
        pytest.skip("CUDA autocast; the CPU has its own op lists")
    scorer = load_scorer("tiny", device)
    images = _images().to(device)
    with torch.no_grad():
        want = scorer.score(images)
        with torch.autocast("cuda", dtype=half_dtype()):
            got = scorer.score(images)
            emb = scorer.embed(images)
    assert emb.dtype == torch.float32  # the tower returns float32 normalised embeddings
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=0, atol=0.05)


def test_aligner_aligns_as_on_the_cpu(device):
    images = _images()
    prompts = ["a coral reef:1 | glitch art:0.5", "an old forest:1 | blurry:-0.5"] * 3
    themes = [["a coral reef:1"], None] * 3
    cpu = load_aligner("tiny", "cpu").align(images, prompts, themes)
    aligner = load_aligner("tiny", str(device))
    assert aligner.encoder.device.type == device.type
    got = aligner.align(images, prompts, themes)
    for a, b in zip(got, cpu, strict=True):
        assert a.value is not None and math.isfinite(a.value)
        assert a.value == pytest.approx(b.value, abs=2e-3)  # cosines; TF32 patch embedding on CUDA
        assert a.prompt == pytest.approx(b.prompt, abs=2e-3)
        assert (a.theme is None) == (b.theme is None)
    feats = aligner.encoder.encode_images(images.to(device))
    assert feats.device.type == "cpu" and feats.dtype == torch.float32
    # features on the device go through align_features too
    again = aligner.align_features(feats.to(device), prompts, themes)
    assert [a.value for a in again] == pytest.approx([a.value for a in got], abs=1e-6)
