"""Prompt strings: `text[:weight[:stop]]`, several joined by `|` (image prompts `path:weight:stop` too). The one
parser for the command line, the queue, themes, the curators and what the public reads; standard library only, so
the gallery machine reads prompts by the same rules (`generator.prompts` adds noise prompts and schedules).

A weight below zero pushes the image away from the prompt. `stop` is a distance below which the prompt no longer
pulls. `|` separates prompts ("a coral reef:1|blurry:-0.5" is two, as nerdyrodent's generate.py reads it).

Which colons are separators: at most the last two colon-fields of a prompt are read, from the right, as weight and
stop. A field is a number ("1", "-0.5", "2e-1", "inf" for a stop; spaces around it allowed: "a reef: 1.5") or it is
text; text is anything with a space in it or right after the colon ("a photo: dawn"), a URL or a path ("https://",
"C:\\reef.png": a colon followed by / or \\), or digits on both sides of the colon ("ratio 16:9", "at 10:30"; to
weight text that ends in a number, put a space before the colon: "the year 1990 :1.5"). Anything else right after a
colon ("a reef:abc", "a reef:1:x", "a reef:", "a reef:nan") is a malformed weight or stop and is refused, naming the
prompt and the syntax, so a typo never silently becomes part of the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from generator.common.errors import PromptError

SYNTAX = "text[:weight[:stop]], several joined by | (e.g. \"a coral reef:1|blurry:-0.5\")"
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)", re.IGNORECASE)


@dataclass(frozen=True)
class PromptSpec:
    text: str
    weight: float = 1.0
    stop: float = -math.inf


def split_prompts(text: str | Sequence[str]) -> tuple[str, ...]:
    """'a coral reef:1|blurry:-0.5' -> ('a coral reef:1', 'blurry:-0.5'); each item of a sequence is split the same
    way; blank prompts are dropped."""
    items = [text] if isinstance(text, str) else list(text)
    return tuple(p.strip() for item in items for p in str(item).split("|") if p.strip())


def is_number(field: str) -> bool:
    return _NUMBER.fullmatch(field.strip()) is not None


def _field_kind(field: str, before: str, more_before: bool) -> str:
    """"number", "text" or "bad" for the text after one colon; `before` is the part before that colon."""
    ratio = bool(field[:1].isdigit() and before[-1:].isdigit()) and not (more_before and is_number(before))
    if is_number(field) and not ratio:
        return "number"
    if ratio or field[:1] in ("/", "\\") or field[:1].isspace() or any(c.isspace() for c in field.strip()):
        return "text"
    return "bad"


def parse_prompt(spec: str, what: str = "prompt") -> PromptSpec:
    """`text[:weight[:stop]]` -> PromptSpec (weight 1, no stop by default); see the module docstring for which colons
    are text. Raises `PromptError` naming the prompt and the syntax for an empty text or a malformed number."""
    parts = str(spec).split(":")
    numbers: list[float] = []
    while len(parts) > 1 and len(numbers) < 2:
        kind = _field_kind(parts[-1], parts[-2], len(parts) > 2)
        if kind == "text":
            break
        if kind == "bad":
            role = "weight" if len(parts) == 2 or not is_number(parts[-2]) or numbers else "stop"
            raise PromptError(f"{what} {spec!r}: the {role} must be a number, not {parts[-1].strip()!r}; "
                                 f"write {SYNTAX}")
        numbers.insert(0, float(parts.pop().strip()))
    text = ":".join(parts).strip()
    if not text:
        raise PromptError(f"empty {what} in {spec!r}: write {SYNTAX}")
    weight = numbers[0] if numbers else 1.0
    stop = numbers[1] if len(numbers) > 1 else -math.inf
    if not math.isfinite(weight):
        raise PromptError(f"{what} {spec!r}: the weight must be a finite number; write {SYNTAX}")
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
        except PromptError:
            if p.split(":")[0].strip():  # no text before the first colon: nothing to read
                out.append(PromptSpec(p))
    return tuple(out)
