"""Prompt strings: weights, stops, colons in text, noise prompts, schedules."""

from __future__ import annotations

import math

import pytest

from generator.common.errors import PromptError
from generator.errors import GeneratorError
from generator.prompts import (
    PromptSpec,
    parse_noise_prompt,
    parse_prompt,
    parse_prompts,
    parse_schedule,
    prompts_at,
    read_prompts,
    split_prompts,
)


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
    with pytest.raises(PromptError, match=message):
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


@pytest.mark.parametrize(("spec", "expected"), [
    ("at 10:30", PromptSpec("at 10:30")),  # digits on both sides of a colon: a time or a ratio, text
    ("ratio 16:9", PromptSpec("ratio 16:9")),
    ("at 10:30:0.5", PromptSpec("at 10:30", 0.5)),
    ("the year 1990 :1.5", PromptSpec("the year 1990", 1.5)),  # a space before the colon weights it
    ("see https://example.org/reef:2", PromptSpec("see https://example.org/reef", 2.0)),
    ("a reef: 1.5", PromptSpec("a reef", 1.5)),
    ("a reef:1:2", PromptSpec("a reef", 1.0, 2.0)),
    ("a reef:-1:-inf", PromptSpec("a reef", -1.0, -math.inf)),
    ("a reef:.5e1", PromptSpec("a reef", 5.0)),
    ("time: 5pm:2", PromptSpec("time: 5pm", 2.0)),
])
def test_colons_that_are_text(spec: str, expected: PromptSpec) -> None:
    assert parse_prompt(spec) == expected


@pytest.mark.parametrize(("spec", "role", "bad"), [
    ("a reef:abc", "weight", "abc"), ("a reef:1:x", "stop", "x"), ("a reef:x:1", "weight", "x"),
    ("a reef:", "weight", ""), ("a reef:1.5x", "weight", "1.5x"), ("a reef:0,5", "weight", "0,5"),
    ("a reef:1:nan", "stop", "nan"), ("a reef:nan", "weight", "nan"),
])
def test_a_malformed_weight_or_stop_is_refused_with_the_prompt_and_the_syntax(spec: str, role: str, bad: str) -> None:
    with pytest.raises(PromptError) as info:
        parse_prompt(spec)
    message = str(info.value)
    assert f"prompt {spec!r}: the {role} must be a number, not {bad!r}" in message
    assert "text[:weight[:stop]]" in message


def test_the_anchors_bar_separates_prompts_in_one_argument() -> None:
    assert split_prompts("a coral reef:1|blurry:-0.5") == ("a coral reef:1", "blurry:-0.5")
    assert split_prompts(["a:1 | b:2", " ", "c"]) == ("a:1", "b:2", "c")
    assert parse_prompts("a coral reef:1|blurry:-0.5") == (PromptSpec("a coral reef"), PromptSpec("blurry", -0.5))
    with pytest.raises(PromptError, match="'blurry:x'"):
        parse_prompts("a coral reef:1|blurry:x")


def test_stored_prompts_are_read_without_refusing() -> None:
    assert read_prompts("a reef:abc | :2 | glacier:-0.5") == (PromptSpec("a reef:abc"), PromptSpec("glacier", -0.5))


def test_noise_prompt_weights_are_numbers() -> None:
    assert parse_noise_prompt("12:0.5") == (12, 0.5)
    with pytest.raises(GeneratorError, match="finite"):
        parse_noise_prompt("12:inf")
