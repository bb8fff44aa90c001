"""The loop on tiny models: it optimises, it is reproducible, prompts of every kind, schedules, plateaus, NaN."""

from __future__ import annotations

import statistics

import pytest
import torch
from PIL import Image

from generator.errors import GeneratorError, NonFiniteLoss
from generator.pipeline import generate, load_models, run

from .conftest import tiny_config


def test_loss_falls_toward_the_text_over_30_steps(tiny_models):
    losses = [s.loss for s in generate(tiny_config(steps=30, cutn=16), tiny_models)]
    assert len(losses) == 30
    assert statistics.mean(losses[-5:]) < statistics.mean(losses[:5]) - 0.01


def test_same_seed_same_image_bitwise_whatever_the_caller_draws(tiny_models):
    def final(draw_between_steps: bool) -> torch.Tensor:
        images = []
        for step in generate(tiny_config(steps=5), tiny_models):
            images.append(step.image)
            if draw_between_steps:
                torch.rand(7)  # the caller's own randomness must not leak into the loop's
        return images[-1]

    a = final(False)
    torch.manual_seed(123)
    b = final(True)
    assert torch.equal(a, b)
    c = next(s.image for s in generate(tiny_config(steps=5, seed=1), tiny_models) if s.last)
    assert not torch.equal(a, c)


def test_fresh_models_give_the_same_image():
    config = tiny_config(steps=3)
    a = run(config).image
    b = run(config, models=load_models(config)).image
    assert a.tobytes() == b.tobytes()


def test_frames_every_n_steps_and_the_last(tiny_models):
    steps = list(generate(tiny_config(steps=7, save_every=3), tiny_models))
    assert [s.index for s in steps if s.image is not None] == [0, 3, 6]
    assert steps[-1].last and steps[-1].image.shape == (1, 3, 64, 64)
    assert 0 <= steps[-1].image.min() and steps[-1].image.max() <= 1


def test_every_kind_of_prompt(tiny_models, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (90, 60), (30, 120, 40)).save(photo)
    config = tiny_config(prompts=("a coral reef:1", "blurry:-0.5"), image_prompts=(f"{photo}:0.5",),
                         noise_prompts=("7:0.2",), init_image=str(photo), init_weight=1.0,
                         schedule=("2=a bleached coral reef:1",), optimizer="adamw")
    steps = list(generate(config, tiny_models))
    assert set(steps[0].losses) == {"text0", "text1", "image0", "noise0", "init"}
    assert set(steps[-1].losses) == {"text0", "image0", "noise0", "init"}  # the schedule replaced the texts
    assert steps[0].losses["init"] == 0  # z starts at the init image's latent
    assert steps[0].losses["text1"] < 0  # negative weight: pushes away


def test_plateau_drops_the_learning_rate_then_stops(tiny_models):
    config = tiny_config(steps=50, plateau_patience=2, plateau_min_delta=10.0, lr_drop=0.5)
    steps = list(generate(config, tiny_models))
    assert steps[0].lr == pytest.approx(0.1) and steps[-1].lr == pytest.approx(0.05)
    assert len(steps) < 50 and steps[-1].last and steps[-1].image is not None


def test_nan_loss_raises_non_finite(tiny_models, monkeypatch):
    perceptor = tiny_models.perceptors["tiny"]
    monkeypatch.setattr(perceptor, "encode_image", lambda x: torch.full((x.shape[0], 64), float("nan")))
    with pytest.raises(NonFiniteLoss, match="the loss became nan at step 0 .*seed 0"):
        list(generate(tiny_config(), tiny_models))


def test_models_must_match_the_config(tiny_models):
    with pytest.raises(GeneratorError, match="loaded for VQGAN 'tiny' but the config asks for 'tiny_gumbel'"):
        list(generate(tiny_config(vqgan="tiny_gumbel"), tiny_models))


def test_gumbel_vqgan_and_pooled_cutouts_run():
    config = tiny_config(vqgan="tiny_gumbel", cutout_mode="pooled", steps=2)
    result = run(config)
    assert result.image.size == (64, 64) and len(result.trace) == 2


def test_run_collects_trace_frames_and_metadata(tiny_models):
    result = run(tiny_config(steps=4, save_every=2), tiny_models)
    assert [row["step"] for row in result.trace] == [0, 1, 2, 3]
    assert result.frame_steps == [0, 2, 3] and len(result.frames) == 3
    assert result.image.tobytes() == result.frames[-1].tobytes()
    meta = result.metadata
    assert meta["vqgan"] == "tiny" and meta["perceptors"] == ["tiny"] and meta["seed"] == 0
    assert set(meta["weights_sha256"]) == {"tiny"} and len(meta["weights_sha256"]["tiny"]) == 64
    assert meta["device"] == "cpu" and meta["precision"] == "fp32" and meta["steps_done"] == 4
    assert meta["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0]


def test_weighted_ensemble_of_perceptors(tiny_models):
    config = tiny_config(perceptors=("tiny", "tiny@0.5"), steps=2)
    steps = list(generate(config, tiny_models))  # one model, two weighted heads with their own cutouts
    assert set(steps[0].losses) == {"text0"} and steps[-1].image is not None
    with pytest.raises(GeneratorError, match="lack perceptor"):
        list(generate(tiny_config(perceptors=("ViT-B-32:random",)), tiny_models))
