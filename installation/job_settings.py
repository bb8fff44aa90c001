"""What a queued job may hold, checked where it is queued (`dstrtd queue`, the web's /api/control/queue) by the rules
the worker applies when it takes the job (`make_config`), so nothing waits in the queue that the worker would refuse.

Torch-free: the web runs on the gallery machine (`generator.config` loads no torch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.common.errors import DstrtdError
from installation.errors import InstallationError

if TYPE_CHECKING:
    from generator.config import GenerateConfig

PRIORITY_MIN, PRIORITY_MAX = -100, 100  # a job's priority; higher runs first


class JobSettingsError(InstallationError):
    """A job the worker would refuse; the message says which setting and why."""


def make_config(values: Mapping[str, Any]) -> GenerateConfig:
    """A checked `GenerateConfig` from settings (unknown keys refused), its preset's models filled in."""
    from generator.config import GenerateConfig

    return GenerateConfig.from_dict(dict(values)).resolved()


def parse_job_prompts(prompt: str) -> tuple[str, ...]:
    """A job's prompt 'a:1 | b:0.6' -> ('a:1', 'b:0.6') (`generator.prompts.split_prompts`)."""
    from generator.prompts import split_prompts

    return split_prompts(prompt)


def _text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file, database or JSON answer can hold it
        raise JobSettingsError(f"{what} holds a character that is not text (a lone surrogate): {value!r}") from None


def _every_text(value: Any, what: str, depth: int = 0) -> None:
    if depth > 4:
        raise JobSettingsError(f"{what} is nested too deeply")
    if isinstance(value, str):
        _text(value, what)
    elif isinstance(value, float) and not math.isfinite(value):
        raise JobSettingsError(f"{what} must be a finite number, got {value!r}")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _every_text(str(k), f"{what} key", depth + 1)
            _every_text(v, f"{what}[{str(k)!r}]", depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _every_text(v, what, depth + 1)


def _inside(path_text: str, studio: Path, what: str) -> str:
    """`path_text` as an absolute path inside `studio` (a relative one is taken from the studio), else refused: a
    job names only the studio's own files, so a queue request can make the worker read nothing else."""
    root = studio.resolve()
    path = Path(path_text).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root):
        raise JobSettingsError(f"{what} {path_text!r} lies outside the studio {root}; copy it into the studio (e.g. "
                               f"{root / 'inputs'}) and give that path")
    if not path.is_file():
        raise JobSettingsError(f"{what} {path_text!r} is not a file in the studio {root}")
    return str(path)


def _studio_files(settings: dict[str, Any], studio: Path) -> dict[str, Any]:
    from generator.prompts import parse_prompt

    out = dict(settings)
    if out.get("init_image"):
        out["init_image"] = _inside(str(out["init_image"]), studio, "init_image")
    specs = out.get("image_prompts")
    if specs:
        rewritten = []
        for spec in [specs] if isinstance(specs, str) else list(specs):
            spec = str(spec)
            text = parse_prompt(spec, "image prompt").text
            path = _inside(text, studio, "image prompt")
            rewritten.append(path + spec[spec.index(text) + len(text):] if text in spec else path)
        out["image_prompts"] = rewritten
    return out


def check_job(prompt: str, settings: Mapping[str, Any] | None, *, priority: int, studio: Path,
              theme: str | None = None) -> dict[str, Any]:
    """The settings to store for a job of `prompt` ('a:1 | b:-0.5'), refused with `JobSettingsError` saying why when
    the worker would refuse them: a priority outside PRIORITY_MIN..PRIORITY_MAX, text that is not UTF-8, NaN or
    infinite numbers, unknown or invalid generator settings (`make_config`, as the worker), and an init image or image
    prompt outside the studio. Paths come back absolute, so the worker finds them from wherever it runs.

    The size must fit the cells of the job's preset; a job without one is checked for the generator's default preset
    (what a worker started without --preset runs), and the message says how to name another."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise JobSettingsError(f"priority must be a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}, "
                               f"not {priority!r}")
    _text(prompt, "the prompt")
    if theme is not None:
        _text(theme, "the theme")
    if not prompt.strip():
        raise JobSettingsError("a job needs a prompt, e.g. 'a coral reef:1'")
    values = dict(settings or {})
    _every_text(values, "settings")
    try:
        values = _studio_files(values, studio)
        make_config({**values, "prompts": list(parse_job_prompts(prompt))})
    except (DstrtdError, ValueError, TypeError) as exc:
        if isinstance(exc, JobSettingsError):
            raise
        from generator.config import DEFAULT_PRESET

        note = "" if "preset" in values else (f" (checked for the default preset {DEFAULT_PRESET}: give --preset "
                                              "NAME when the worker runs another)")
        raise JobSettingsError(f"invalid job settings: {exc}{note}") from None
    return values
