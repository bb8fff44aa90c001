"""`dstrtd gallery`, `dstrtd export` and `dstrtd engagement`: every option of their configs is derived from a field,
and `--help` shows each one's default."""

from __future__ import annotations

import argparse
import dataclasses
import typing

import pytest

from installation.cli import build_parser
from installation.commands import engagement, export, gallery
from installation.commands._options import option_kwargs
from installation.engagement.config import RatingsConfig, ReadbackConfig
from installation.export.config import ContactSheetConfig, PosterConfig, SocialConfig
from installation.gallery.config import GalleryConfig


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize(("path", "config"), [
    (("gallery",), GalleryConfig), (("export", "posters"), PosterConfig), (("export", "social"), SocialConfig),
    (("export", "contact-sheet"), ContactSheetConfig), (("engagement",), ReadbackConfig),
    (("engagement",), RatingsConfig),
])
def test_every_field_is_an_option_whose_help_shows_its_default(path: tuple[str, ...], config: type) -> None:
    parser = _subparser(build_parser(), *path)
    text = " ".join(parser.format_help().split())
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        flag = f"--{f.name.replace('_', '-')}"
        assert flag in text, flag
        shown = option_kwargs(config, f, hints[f.name])["help"].split("(default: ")[-1]
        assert f"(default: {shown}" in text, f.name
    assert parser.parse_args([]).__dict__.keys() >= {f.name for f in dataclasses.fields(config)}


def test_help_tells_the_true_defaults() -> None:
    text = " ".join(_subparser(build_parser(), "gallery").format_help().split())
    for fragment in ("--hold S seconds each piece stays fully shown (default: 12)", "{crossfade,cut}",
                     "(default: crossfade)", "--ken-burns, --no-ken-burns", "(default: off)",
                     "{featured,score,clusters,newest}", "--background COLOUR", "(default: black)",
                     "--windowed WxH", "(default: fullscreen)", "(default: 64000000)"):
        assert fragment in text, fragment
    text = " ".join(_subparser(build_parser(), "export", "posters").format_help().split())
    for fragment in ("(default: A3)", "{portrait,landscape,auto}", "(default: auto)", "(default: 300)",
                     "{Q,H}", "(default: Q)", "--bleed, --no-bleed", "(default: #ffffff)", "--workers WORKERS"):
        assert fragment in text, fragment


def test_options_make_the_configs() -> None:
    parser = build_parser()
    args = parser.parse_args(["gallery", "--hold", "5", "--no-qr", "--windowed", "800x600", "--background", "#102030",
                              "--order", "newest", "--qr-corner", "top-left", "--hours", "tue-sun 10:00-18:00"])
    assert gallery.config_from_args(args) == GalleryConfig(hold=5.0, qr=False, windowed=(800, 600),
                                                           background=(16, 32, 48), order="newest",
                                                           qr_corner="top-left", hours="tue-sun 10:00-18:00")
    assert gallery.config_from_args(parser.parse_args(["gallery"])) == GalleryConfig()
    for argv, config in ((["posters", "--size", "A5", "--bleed", "--qr-error", "H", "--no-pdf", "--margin-mm", "12"],
                          PosterConfig(size="A5", bleed=True, qr_error="H", pdf=False, margin_mm=12.0)),
                         (["social", "--format", "1:1", "--fit", "pad", "--link"],
                          SocialConfig(format="1:1", fit="pad", link=True)),
                         (["contact-sheet", "--columns", "3", "--thumb", "96"],
                          ContactSheetConfig(columns=3, thumb=96))):
        assert export.config_from_args(type(config), parser.parse_args(["export", *argv])) == config
    args = parser.parse_args(["engagement", "--max-posts", "3", "--sleep", "0", "--comment-weight", "1"])
    assert engagement.config_from_args(ReadbackConfig, args) == ReadbackConfig(max_posts=3, sleep=0.0)
    assert engagement.config_from_args(RatingsConfig, args) == RatingsConfig(comment_weight=1.0)


def test_bad_choices_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gallery", "--transition", "wipe"])
    assert "invalid choice: 'wipe'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gallery", "--background", "mauve"])
    assert "'mauve' is not a colour" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["gallery", "--frames", "1"], ["export", "posters"], ["export", "social"]])
@pytest.mark.parametrize(("url", "message"), [
    ("dstrtd.example", "base_url must be an http:// or https:// address"),
    ("ftp://dstrtd.example", "base_url must be an http:// or https:// address"),
    ("https://", "base_url must be an http:// or https:// address"),
    ("https://dstrtd.example/a b", "base_url must be an http:// or https:// address"),
    ("https://dstrtd.example/?x=1", "must not hold a query or a fragment"),
    ("https://dstrtd.example//p", "not a plain sub-path"),
])
def test_base_url_is_checked_as_the_web_checks_it(studio, capsys: pytest.CaptureFixture[str], argv: list[str],
                                                  url: str, message: str) -> None:
    """The QR codes of the gallery and the posters, and the social posts' links, must lead somewhere a visitor can
    open: a bad --base-url is refused before anything is drawn, in one line, as `dstrtd web` refuses it."""
    from installation.cli import main

    assert main([*argv, "--studio", str(studio.root), "--base-url", url]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_bad_base_url_from_the_environment_is_named(studio, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from installation.cli import main

    monkeypatch.setenv("DSTRTD_BASE_URL", "dstrtd.example")
    assert main(["export", "posters", "--studio", str(studio.root)]) == 2
    assert "(from $DSTRTD_BASE_URL)" in capsys.readouterr().err
    assert GalleryConfig(base_url="https://museum.example/dstrtd/").base_url == "https://museum.example/dstrtd/"
