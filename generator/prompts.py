"""Prompt strings of a generation: text prompts (`generator.common.prompts`, the one parser, re-exported here),
noise prompts `seed:weight`, and schedules: a schedule entry `STEP=PROMPT|PROMPT...` replaces the text prompts from
step STEP on (story mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from generator.common.prompts import (
    SYNTAX,
    PromptSpec,
    is_number,
    parse_prompt,
    parse_prompts,
    read_prompts,
    split_prompts,
)
from generator.errors import GeneratorError

__all__ = ["SYNTAX", "PromptSpec", "ScheduleEntry", "parse_noise_prompt", "parse_prompt", "parse_prompts",
           "parse_schedule", "prompts_at", "read_prompts", "split_prompts"]


@dataclass(frozen=True)
class ScheduleEntry:
    step: int
    prompts: tuple[PromptSpec, ...]


def parse_noise_prompt(spec: str) -> tuple[int, float]:
    """`seed[:weight]` -> (seed, weight): a random embedding drawn from that seed, as a target."""
    seed, sep, weight = spec.strip().partition(":")
    try:
        value = (int(seed), float(weight) if sep else 1.0)
    except ValueError:
        raise GeneratorError(f"noise prompt {spec!r} must be SEED or SEED:WEIGHT with an integer seed") from None
    if not math.isfinite(value[1]) or not is_number(weight or "1"):
        raise GeneratorError(f"noise prompt {spec!r}: the weight must be a finite number")
    return value


def parse_schedule(entries: Sequence[str]) -> tuple[ScheduleEntry, ...]:
    """`STEP=PROMPT|PROMPT...` entries -> ScheduleEntry tuple sorted by step; steps must differ."""
    out: list[ScheduleEntry] = []
    for entry in entries:
        head, sep, body = entry.partition("=")
        if not sep or not head.strip().isdigit():
            raise GeneratorError(f"schedule entry {entry!r} must be STEP=PROMPT|PROMPT... with STEP a whole number "
                                 "(e.g. '150=a bleached coral reef:1|glitch:0.5')")
        prompts = parse_prompts(body)
        if not prompts:
            raise GeneratorError(f"schedule entry {entry!r} has no prompt after '='")
        out.append(ScheduleEntry(int(head), prompts))
    out.sort(key=lambda e: e.step)
    steps = [e.step for e in out]
    if len(set(steps)) != len(steps):
        raise GeneratorError(f"schedule has two entries for the same step: {steps}")
    return tuple(out)


def prompts_at(step: int, base: tuple[PromptSpec, ...], schedule: tuple[ScheduleEntry, ...]) -> tuple[PromptSpec, ...]:
    """The text prompts in force at `step`: the last schedule entry at or before it, else `base`."""
    current = base
    for entry in schedule:
        if entry.step <= step:
            current = entry.prompts
    return current
