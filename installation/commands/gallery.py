"""`dstrtd gallery`: the fullscreen display of the accepted and featured pieces. Imports no torch, ever."""

from __future__ import annotations

import argparse
import re

from installation.commands._common import add_studio_argument

_COLOURS = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "gray": (128, 128, 128)}


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or min(int(m.group(1)), int(m.group(2))) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x720")
    return int(m.group(1)), int(m.group(2))


def _colour(text: str) -> tuple[int, int, int]:
    value = text.strip().lower()
    if value in _COLOURS:
        return _COLOURS[value]
    if re.fullmatch(r"#[0-9a-f]{6}", value):
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        return tuple(int(c * 2, 16) for c in value[1:])  # type: ignore[return-value]
    parts = value.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
        return tuple(int(p) for p in parts)  # type: ignore[return-value]
    raise argparse.ArgumentTypeError(f"{text!r} is not a colour (#102030, #123, 16,32,48, black, white, grey)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Defaults are None here: the GalleryConfig dataclass holds the real ones (and their reasons).
    add_studio_argument(parser)
    bool_opt = argparse.BooleanOptionalAction
    show = parser.add_argument_group("showing")
    show.add_argument("--hold", type=float, metavar="S", help="seconds each piece stays (default 12)")
    show.add_argument("--transition", choices=("crossfade", "cut"), help="how pieces change (default crossfade)")
    show.add_argument("--crossfade", type=float, metavar="S", help="crossfade length in seconds (default 2)")
    show.add_argument("--ken-burns", action=bool_opt, help="slow pan/zoom over each piece (default off)")
    show.add_argument("--ken-burns-zoom", type=float, metavar="Z", help="largest pan/zoom magnification (1.1)")
    show.add_argument("--fit", choices=("letterbox", "fill"),
                      help="letterbox: whole piece on --background; fill: cover the screen, cropping (letterbox)")
    show.add_argument("--background", type=_colour, metavar="COLOUR", help="letterbox colour (default black)")
    show.add_argument("--order", choices=("featured", "score", "clusters", "newest"),
                      help="featured first (default), score-weighted, round-robin over clusters/themes, newest first")
    show.add_argument("--score-curator", metavar="NAME", help="curator whose score weights --order score")
    show.add_argument("--score-temperature", type=float, metavar="T", help="score points per factor e (1)")
    show.add_argument("--new-first", action=bool_opt, help="show pieces accepted while running next (default on)")
    show.add_argument("--seed", type=int, help="random seed for --order score")
    over = parser.add_argument_group("overlays")
    over.add_argument("--title", action=bool_opt, help="the piece's title (default on)")
    over.add_argument("--reflection", action=bool_opt, help="the piece's reflection, else its theme's (default on)")
    over.add_argument("--qr", action=bool_opt, help="QR code of the piece's public page (default on)")
    over.add_argument("--qr-corner", choices=("bottom-right", "bottom-left", "top-right", "top-left"))
    over.add_argument("--base-url", metavar="URL", help="public pages' base URL (default $DSTRTD_BASE_URL)")
    over.add_argument("--screen-inches", type=float, metavar="IN",
                      help="the screen's diagonal, for the QR code's physical size (default 55)")
    over.add_argument("--scan-distance", type=float, metavar="M", help="metres the QR code must scan from (2)")
    over.add_argument("--font", metavar="FILE",
                      help="a .ttf/.otf font (default: the first installed of Inter, Noto Sans, DejaVu Sans, "
                           "Liberation Sans, Helvetica, Segoe UI, Arial; else pygame's own)")
    screen = parser.add_argument_group("screen and schedule")
    screen.add_argument("--display", type=int, metavar="N", help="monitor to use, 0 = primary (default 0)")
    screen.add_argument("--windowed", type=_size, metavar="WxH", help="a window of this size instead of fullscreen")
    screen.add_argument("--hours", metavar="SPEC",
                        help='opening hours, e.g. "10:00-18:00" or "tue-sun 10:00-18:00; mon 12:00-16:00"; '
                             "outside them the screen is black (default: always open)")
    screen.add_argument("--fps", type=int, help="frame rate while something moves (default 60)")
    screen.add_argument("--idle-fps", type=int, help="loop rate outside opening hours (default 2)")
    screen.add_argument("--poll", type=float, metavar="S", help="seconds between catalog checks (default 1)")
    screen.add_argument("--max-pixels", type=int, metavar="N", help="skip pieces with more pixels (64000000)")
    screen.add_argument("--state", metavar="FILE", help="resume file (default STUDIO/gallery-state.json)")
    stop = parser.add_argument_group("stopping (tests, benchmarks, soak runs)")
    stop.add_argument("--seconds", type=float, help="stop after this many seconds")
    stop.add_argument("--frames", type=int, help="stop after this many frames")
    stop.add_argument("--screenshot", metavar="PNG", help="save the last frame to this PNG when stopping")


def config_from_args(args: argparse.Namespace):  # -> GalleryConfig (imported lazily)
    from dataclasses import fields

    from installation.gallery.config import GalleryConfig

    names = {f.name for f in fields(GalleryConfig)}
    return GalleryConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})


def run(args: argparse.Namespace) -> int:
    from installation.gallery.app import GalleryApp

    return GalleryApp(args.studio, config_from_args(args)).run()
