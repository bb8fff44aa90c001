"""Prompt strings: `text:weight:stop`, image prompts `path:weight:stop`, noise prompts `seed:weight`, schedules.

A weight below zero pushes the image away from the prompt. `stop` is a distance below which the prompt no longer
pulls. Colons inside the text are kept: only trailing numbers are read as weight and stop ("a photo: dawn" is all
text, "a photo: dawn:0.5" has weight 0.5).
A schedule entry `STEP=PROMPT|PROMPT...` replaces the text prompts from step STEP on (story mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from generator.errors import GeneratorError


@dataclass(frozen=True)
class PromptSpec:
    text: str
    weight: float = 1.0
    stop: float = -math.inf


@dataclass(frozen=True)
class ScheduleEntry:
    step: int
    prompts: tuple[PromptSpec, ...]


def _number(s: str) -> float | None:
    try:
        value = float(s)
    except ValueError:
        return None
    return value


def parse_prompt(spec: str, what: str = "prompt") -> PromptSpec:
    """`text[:weight[:stop]]` -> PromptSpec; weight 1 and no stop by default."""
    parts = spec.rsplit(":", 2)
    numbers: list[float] = []
    while len(parts) > 1 and len(numbers) < 2 and (n := _number(parts[-1].strip())) is not None:
        numbers.insert(0, n)
        parts = parts[:-1]
    text = ":".join(parts).strip()
    if not text:
        raise GeneratorError(f"empty {what} in {spec!r}: write TEXT, TEXT:WEIGHT or TEXT:WEIGHT:STOP")
    weight = numbers[0] if numbers else 1.0
    stop = numbers[1] if len(numbers) > 1 else -math.inf
    if not math.isfinite(weight):
        raise GeneratorError(f"{what} {spec!r}: the weight must be a finite number")
    if math.isnan(stop):
        raise GeneratorError(f"{what} {spec!r}: the stop must be a number")
    return PromptSpec(text, weight, stop)


def parse_noise_prompt(spec: str) -> tuple[int, float]:
    """`seed[:weight]` -> (seed, weight): a random embedding drawn from that seed, as a target."""
    p = parse_prompt(spec, "noise prompt")
    try:
        return int(p.text), p.weight
    except ValueError:
        raise GeneratorError(f"noise prompt {spec!r} must be SEED or SEED:WEIGHT with an integer seed") from None


def parse_schedule(entries: Sequence[str]) -> tuple[ScheduleEntry, ...]:
    """`STEP=PROMPT|PROMPT...` entries -> ScheduleEntry tuple sorted by step; steps must differ."""
    out: list[ScheduleEntry] = []
    for entry in entries:
        head, sep, body = entry.partition("=")
        if not sep or not head.strip().isdigit():
            raise GeneratorError(f"schedule entry {entry!r} must be STEP=PROMPT|PROMPT... with STEP a whole number "
                                 "(e.g. '150=a bleached coral reef:1|glitch:0.5')")
        prompts = tuple(parse_prompt(p) for p in body.split("|") if p.strip())
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
