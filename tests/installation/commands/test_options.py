"""Options derived from config dataclasses: names, types, choices and defaults come from the fields."""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from generator.common.fields import setting
from installation.commands._options import add_config_options, config_from_args


class Fit(enum.StrEnum):
    LETTERBOX = "letterbox"
    FILL = "fill"


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


@dataclass(frozen=True)
class Demo:
    hold: float = setting(12.0, "seconds a piece stays")
    order: Literal["featured", "newest"] = setting("featured", "what comes next")
    fit: Fit = setting(Fit.LETTERBOX, "how a piece fills the screen")
    title: bool = setting(True, "the piece's title")
    seed: int | None = setting(None, "random seed")
    windowed: tuple[int, int] | None = setting(None, "a window instead of fullscreen", parse=_size, metavar="WxH")
    augments: tuple[str, ...] = setting(("a", "b"), "names")
    size: tuple[int, int] = setting((304, 304), "W H")
    out: Path | None = setting(None, "a folder")
    secret: str = setting("x", "not an option", cli=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo")
    add_config_options(parser, Demo)
    return parser


def test_help_shows_every_default_and_choice() -> None:
    text = " ".join(_parser().format_help().split())
    for fragment in ("--hold HOLD seconds a piece stays (default: 12)", "{featured,newest}", "(default: featured)",
                     "{letterbox,fill}", "(default: letterbox)", "--title, --no-title", "(default: on)",
                     "random seed (default: none)", "--windowed WxH", "names (default: a b)", "W H (default: 304 304)"):
        assert fragment in text, fragment
    assert "--secret" not in text


def test_only_the_options_given_override() -> None:
    args = _parser().parse_args(["--hold", "3", "--no-title", "--windowed", "640x360", "--augments", "--size", "16",
                                 "32", "--fit", "fill", "--order", "newest"])
    config = config_from_args(Demo, args)
    assert config == Demo(hold=3.0, title=False, windowed=(640, 360), augments=(), size=(16, 32), fit=Fit.FILL,
                          order="newest")
    assert config_from_args(Demo, _parser().parse_args([])) == Demo()
    base = Demo(hold=7.0, seed=3)
    assert config_from_args(Demo, _parser().parse_args(["--seed", "4"]), base) == Demo(hold=7.0, seed=4)


def test_underscore_spelling_is_accepted_and_bad_choices_refused(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_config_options(parser, Demo, only={"hold", "order"})
    assert parser.parse_args(["--hold", "1"]).hold == 1.0
    with pytest.raises(SystemExit):
        parser.parse_args(["--order", "random"])
    assert "invalid choice: 'random'" in capsys.readouterr().err
