"""Prompt strings: `text[:weight[:stop]]`, several joined by `|`, image prompts `path:weight:stop`, noise prompts
`seed:weight`, schedules. The one parser for the command line, the queue, themes and the curators.

A weight below zero pushes the image away from the prompt. `stop` is a distance below which the prompt no longer
pulls. `|` separates prompts ("a coral reef:1|blurry:-0.5" is two, as nerdyrodent's generate.py reads it).

Which colons are separators: at most the last two colon-fields of a prompt are read, from the right, as weight and
stop. A field is a number ("1", "-0.5", "2e-1", "inf" for a stop; spaces around it allowed: "a reef: 1.5") or it is
text; text is anything with a space in it or right after the colon ("a photo: dawn"), a URL or a path ("https://",
"C:\\reef.png": a colon followed by / or \\), or digits on both sides of the colon ("ratio 16:9", "at 10:30"; to
weight text that ends in a number, put a space before the colon: "the year 1990 :1.5"). Anything else right after a
colon ("a reef:abc", "a reef:1:x", "a reef:", "a reef:nan") is a malformed weight or stop and is refused, naming the
prompt and the syntax, so a typo never silently becomes part of the text.
A schedule entry `STEP=PROMPT|PROMPT...` replaces the text prompts from step STEP on (story mode).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from generator.errors import GeneratorError

SYNTAX = "text[:weight[:stop]], several joined by | (e.g. \"a coral reef:1|blurry:-0.5\")"
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)", re.IGNORECASE)


@dataclass(frozen=True)
class PromptSpec:
    text: str
    weight: float = 1.0
    stop: float = -math.inf


@dataclass(frozen=True)
class ScheduleEntry:
    step: int
    prompts: tuple[PromptSpec, ...]


def split_prompts(text: str | Sequence[str]) -> tuple[str, ...]:
    """'a coral reef:1|blurry:-0.5' -> ('a coral reef:1', 'blurry:-0.5'); each item of a sequence is split the same
    way; blank prompts are dropped."""
    items = [text] if isinstance(text, str) else list(text)
    return tuple(p.strip() for item in items for p in str(item).split("|") if p.strip())


def _is_number(field: str) -> bool:
    return _NUMBER.fullmatch(field.strip()) is not None


def _field_kind(field: str, before: str, more_before: bool) -> str:
    """"number", "text" or "bad" for the text after one colon; `before` is the part before that colon."""
    ratio = bool(field[:1].isdigit() and before[-1:].isdigit()) and not (more_before and _is_number(before))
    if _is_number(field) and not ratio:
        return "number"
    if ratio or field[:1] in ("/", "\\") or field[:1].isspace() or any(c.isspace() for c in field.strip()):
        return "text"
    return "bad"


def parse_prompt(spec: str, what: str = "prompt") -> PromptSpec:
    """`text[:weight[:stop]]` -> PromptSpec (weight 1, no stop by default); see the module docstring for which colons
    are text. Raises `GeneratorError` naming the prompt and the syntax for an empty text or a malformed number."""
    parts = str(spec).split(":")
    numbers: list[float] = []
    while len(parts) > 1 and len(numbers) < 2:
        kind = _field_kind(parts[-1], parts[-2], len(parts) > 2)
        if kind == "text":
            break
        if kind == "bad":
            role = "weight" if len(parts) == 2 or not _is_number(parts[-2]) or numbers else "stop"
            raise GeneratorError(f"{what} {spec!r}: the {role} must be a number, not {parts[-1].strip()!r}; "
                                 f"write {SYNTAX}")
        numbers.insert(0, float(parts.pop().strip()))
    text = ":".join(parts).strip()
    if not text:
        raise GeneratorError(f"empty {what} in {spec!r}: write {SYNTAX}")
    weight = numbers[0] if numbers else 1.0
    stop = numbers[1] if len(numbers) > 1 else -math.inf
    if not math.isfinite(weight):
        raise GeneratorError(f"{what} {spec!r}: the weight must be a finite number; write {SYNTAX}")
    return PromptSpec(text, weight, stop)


def parse_prompts(text: str | Sequence[str], what: str = "prompt") -> tuple[PromptSpec, ...]:
    """Every prompt of a job's prompt string ('a:1 | b:-0.5') or of a list of specs, each checked (`parse_prompt`)."""
    return tuple(parse_prompt(p, what) for p in split_prompts(text))


def read_prompts(text: str | Sequence[str]) -> tuple[PromptSpec, ...]:
    """Like `parse_prompts`, for prompts already stored (pieces made before these rules, imported photos): a
    malformed prompt is read as text with weight 1 instead of refused, and prompts without text are dropped."""
    out = []
    for p in split_prompts(text):
        try:
            out.append(parse_prompt(p))
        except GeneratorError:
            if p.split(":")[0].strip():  # no text before the first colon: nothing to read
                out.append(PromptSpec(p))
    return tuple(out)


def parse_noise_prompt(spec: str) -> tuple[int, float]:
    """`seed[:weight]` -> (seed, weight): a random embedding drawn from that seed, as a target."""
    seed, sep, weight = spec.strip().partition(":")
    try:
        value = (int(seed), float(weight) if sep else 1.0)
    except ValueError:
        raise GeneratorError(f"noise prompt {spec!r} must be SEED or SEED:WEIGHT with an integer seed") from None
    if not math.isfinite(value[1]) or not _is_number(weight or "1"):
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
