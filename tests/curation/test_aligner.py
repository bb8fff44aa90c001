"""The aligner: prompt parsing, cosines against prompts and theme prompts with a constructed encoder."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from curation.aligner import Aligner
from generator.prompts import PromptSpec, read_prompts

COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0)}


class ColourEncoder:
    """Images embed as their mean RGB, texts as the colour they name: cosines are known in closed form."""

    name, version, input_resolution = "colour", "1", 4

    def __init__(self) -> None:
        self.text_calls = 0

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(images.mean((2, 3)), dim=-1)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        self.text_calls += 1
        return torch.nn.functional.normalize(torch.tensor([COLOURS[t] for t in texts]), dim=-1)


def solid(*rgb: float) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 8, 8)


def test_the_aligner_reads_prompts_with_the_generators_parser() -> None:
    """Stored prompts are read leniently (a piece made before the strict rules still counts): a job prompt splits at
    '|', a malformed weight reads as text, an empty prompt is dropped."""
    aligner = Aligner(ColourEncoder(), theme_weight=0.0)
    [a] = aligner.align(solid(1, 0, 0), ["red:1 | blue:0.5 |  "], [None])
    assert set(a.details["prompts"]) == {"red", "blue"}
    assert a.prompt == pytest.approx(1.0 / 1.5)  # (1 * cos(red, red) + 0.5 * cos(red, blue)) / 1.5
    assert read_prompts(["red", ":2", "red:abc"]) == (PromptSpec("red"), PromptSpec("red:abc"))


def test_value_mixes_prompt_and_theme_cosines() -> None:
    aligner = Aligner(ColourEncoder(), theme_weight=0.5)
    [a] = aligner.align(solid(1, 0, 0), ["red:1 | green:-1"], [["yellow:1", "blue:1"]])
    assert a.prompt == pytest.approx(1.0)  # only the positive prompt counts
    assert a.theme == pytest.approx((2**-0.5 + 0.0) / 2)  # cos(red, yellow) = 1/sqrt(2), cos(red, blue) = 0
    assert a.value == pytest.approx(0.5 * 1.0 + 0.5 * a.theme)
    assert a.details["prompts"] == {"red": pytest.approx(1.0), "green": pytest.approx(0.0)}
    assert a.details["theme_prompts"]["yellow"] == pytest.approx(2**-0.5, abs=1e-6)
    assert a.details["encoder"] == "colour@1"


def test_weights_and_missing_parts() -> None:
    aligner = Aligner(ColourEncoder(), theme_weight=0.25)
    images = torch.cat([solid(0, 1, 0), solid(0, 1, 0), solid(0, 0, 1)])
    out = aligner.align(images, ["green:3 | red:1", "", ""], [None, ["green"], None])
    assert out[0].prompt == pytest.approx(0.75) and out[0].theme is None and out[0].value == pytest.approx(0.75)
    assert out[1].prompt is None and out[1].value == pytest.approx(1.0)  # theme alone
    assert out[2].value is None and out[2].prompt is None and out[2].theme is None


def test_text_embeddings_are_cached_per_text() -> None:
    enc = ColourEncoder()
    aligner = Aligner(enc)
    aligner.align(solid(1, 0, 0), ["red"], [["blue"]])
    aligner.align(solid(0, 0, 1), ["blue | red"], [["red"]])
    assert enc.text_calls == 1
    torch.testing.assert_close(aligner.prompt_features("red:1 | green:1"), torch.tensor([2**-0.5, 2**-0.5, 0.0]))
    assert aligner.prompt_features("red:-1") is None


def test_shape_errors_name_the_shapes() -> None:
    aligner = Aligner(ColourEncoder())
    with pytest.raises(ValueError, match="need one prompt and one theme prompt list per image: 1 images, 2 prompts"):
        aligner.align_features(torch.ones(1, 3), ["red", "blue"], [None])
    with pytest.raises(ValueError, match="must be \\(B, D\\)"):
        aligner.align_features(torch.ones(3), ["red"], [None])
    with pytest.raises(ValueError, match="theme_weight"):
        Aligner(ColourEncoder(), theme_weight=2)
