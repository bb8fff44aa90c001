"""`dstrtd` itself: the verbosity flags anywhere on the line, and `--version`."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from installation.cli import build_parser, main


@pytest.mark.parametrize("argv", [
    ["-v", "catalog", "list"], ["catalog", "-v", "list"], ["catalog", "list", "-v"], ["catalog", "list", "--verbose"],
    ["train", "scorer", "-v"], ["weights", "convert", "x.ckpt", "-v"], ["curate", "-v"],
])
def test_verbose_works_before_and_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.quiet is False


@pytest.mark.parametrize("argv", [["-q", "catalog", "list"], ["catalog", "list", "-q"], ["gallery", "--quiet"]])
def test_quiet_works_before_and_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.verbose is False


def test_a_flag_given_before_the_subcommand_is_kept_when_none_follows_it() -> None:
    args = build_parser().parse_args(["-v", "export", "posters"])
    assert args.verbose is True and args.quiet is False


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dstrtd {version('dstrtd')}"
