"""Prompt strings: weights, stops, colons in text, noise prompts, schedules."""

from __future__ import annotations

import math

import pytest

from generator.errors import GeneratorError
from generator.prompts import PromptSpec, parse_noise_prompt, parse_prompt, parse_schedule, prompts_at


@pytest.mark.parametrize(("spec", "expected"), [
    ("a coral reef", PromptSpec("a coral reef", 1.0, -math.inf)),
    ("a coral reef:1", PromptSpec("a coral reef", 1.0, -math.inf)),
    ("blurry:-0.5", PromptSpec("blurry", -0.5, -math.inf)),
    ("a forest:2:0.7", PromptSpec("a forest", 2.0, 0.7)),
    ("a photo: dawn", PromptSpec("a photo: dawn", 1.0, -math.inf)),
    ("a photo: dawn:0.5", PromptSpec("a photo: dawn", 0.5, -math.inf)),
    ("ratio 16:9 sky:1:0.2", PromptSpec("ratio 16:9 sky", 1.0, 0.2)),
    (r"C:\images\reef.png:0.8", PromptSpec(r"C:\images\reef.png", 0.8, -math.inf)),
    ("  spaced  : 3 ", PromptSpec("spaced", 3.0, -math.inf)),
])
def test_parse_prompt(spec, expected):
    assert parse_prompt(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    (":1", "empty prompt"), ("", "empty prompt"), ("x:inf", "finite"), ("x:1:nan", "stop must be a number")])
def test_bad_prompts(spec, message):
    with pytest.raises(GeneratorError, match=message):
        parse_prompt(spec)


def test_noise_prompts():
    assert parse_noise_prompt("42") == (42, 1.0)
    assert parse_noise_prompt("7:-0.3") == (7, -0.3)
    with pytest.raises(GeneratorError, match="integer seed"):
        parse_noise_prompt("seven:1")


def test_schedule_replaces_text_prompts_from_its_step():
    schedule = parse_schedule(["150=a bleached coral reef:1|glitch:0.5", "50=coral reef at dusk"])
    assert [e.step for e in schedule] == [50, 150]
    base = (PromptSpec("a coral reef"),)
    assert prompts_at(0, base, schedule) == base
    assert prompts_at(49, base, schedule) == base
    assert prompts_at(50, base, schedule) == (PromptSpec("coral reef at dusk"),)
    assert prompts_at(400, base, schedule) == (PromptSpec("a bleached coral reef"), PromptSpec("glitch", 0.5))


@pytest.mark.parametrize(("entries", "message"), [
    (["a reef"], "STEP=PROMPT"), (["x=a reef"], "STEP=PROMPT"), (["10="], "no prompt"),
    (["10=a", "10=b"], "same step")])
def test_bad_schedules(entries, message):
    with pytest.raises(GeneratorError, match=message):
        parse_schedule(entries)
