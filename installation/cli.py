"""The `dstrtd` command line: one entry point, subcommands that import their package only when they run.

Each subcommand is a module in `installation.commands` with `add_arguments(parser)` and `run(args) -> int`.
Those modules import nothing heavy at module level, so `dstrtd gallery` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence

from generator.common.errors import DstrtdError

log = logging.getLogger(__name__)

# name -> (module, one-line help). The order is the order `dstrtd --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("installation.commands.demo", "offline end-to-end demo on the tiny preset (the README's main job)"),
    "init": ("installation.commands.init", "make a studio folder (catalog, pieces, exports, themes.toml)"),
    "generate": ("installation.commands.generate", "generate one piece with VQGAN+CLIP"),
    "weights": ("installation.commands.weights", "list, download or verify model weights"),
    "studio": ("installation.commands.studio", "run the studio worker: queue -> generate -> curate -> catalog"),
    "queue": ("installation.commands.queue", "queue a prompt for the studio worker"),
    "curate": ("installation.commands.curate", "score and decide on new pieces (or a folder of images)"),
    "catalog": ("installation.commands.catalog", "list, show, decide on and name the pieces of a studio"),
    "train": ("installation.commands.train", "train the curators: aesthetic scorer or contrastive encoder"),
    "gallery": ("installation.commands.gallery", "fullscreen gallery display of accepted pieces"),
    "web": ("installation.commands.web", "serve the public pages behind the QR codes"),
    "export": ("installation.commands.export", "export print posters, social posts and contact sheets"),
    "engagement": ("installation.commands.engagement", "read likes and comments back from Instagram"),
}


# Dependencies (pyproject.toml) a partial install may lack: the display-only one has no torch stack.
DEPENDENCIES = frozenset({"torch", "torchvision", "open_clip", "kornia", "taming", "einops", "safetensors",
                             "matplotlib", "optuna", "tqdm", "instaloader"})
DISPLAY_REQUIREMENTS = "installation/requirements-display.txt"


def _is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, DstrtdError | FileNotFoundError)


def _missing_dependency(exc: BaseException) -> str | None:
    """The dependency whose absence raised `exc`, if that is what happened."""
    if isinstance(exc, ModuleNotFoundError):
        top = (exc.name or "").partition(".")[0]
        # why find_spec: a missing submodule of an installed package (a version mismatch) is another problem
        if top not in DEPENDENCIES:
            return None
        try:
            installed = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            installed = False
        return None if installed else top
    return None


def package_version() -> str:
    """The installed `dstrtd` distribution's version (pyproject.toml's), or "unknown" outside an install."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dstrtd")
    except PackageNotFoundError:
        return "unknown"


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log debug messages and show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="log warnings and errors only")


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser` (`dstrtd catalog list`, `dstrtd train scorer`, ...), depth first."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += [child, *_subparsers(child)]
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dstrtd",
        description="DSTRTD: nature as a computer sees it. Generate, curate, display and export distorted nature art.",
    )
    _add_verbosity(parser, False)
    parser.add_argument("--version", action="version", version=f"dstrtd {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a subcommand not built yet is simply not offered
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    # why SUPPRESS: `dstrtd -v curate` and `dstrtd curate -v` both work; a subcommand's unset flag must not reset
    # the one given before it
    for child in _subparsers(parser):
        _add_verbosity(child, argparse.SUPPRESS)
    return parser


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    configure_logging(args.verbose, args.quiet)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("dstrtd: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            log.exception("dstrtd %s failed", args.command)
        missing = _missing_dependency(exc)
        if missing:
            print(f"dstrtd {args.command}: error: this command needs the package {missing!r}, which is not installed "
                  "here; `pip install -e .` in the checkout installs everything (the display-only install from "
                  f"{DISPLAY_REQUIREMENTS} runs gallery, web, export, catalog and init)", file=sys.stderr)
            return 2
        if _is_user_error(exc):
            print(f"dstrtd {args.command}: error: {exc}", file=sys.stderr)
            return exc.exit_code if isinstance(exc, DstrtdError) else 2
        print(f"dstrtd {args.command}: unexpected error: {type(exc).__name__}: {exc} (run with -v for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
