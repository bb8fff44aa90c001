"""The gallery's settings: one frozen dataclass. `dstrtd gallery` derives its options from the fields (same names,
defaults, choices and help), so `--help` cannot drift from what the display does."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from curation.public import BASE_URL_ENV, DEFAULT_BASE_URL, BaseUrlError, checked_base_url
from generator.common.fields import setting
from installation.errors import InstallationError

Transition = Literal["crossfade", "cut"]
Fit = Literal["letterbox", "fill"]
Order = Literal["featured", "score", "clusters", "newest"]
Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]

_COLOURS = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "gray": (128, 128, 128)}


class GalleryError(InstallationError):
    """A setting or a display the user can fix; the CLI prints the message on one line."""


def parse_size(text: str) -> tuple[int, int]:
    """"1280x720" -> (1280, 720); the command line's spelling of `windowed`."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or min(int(m.group(1)), int(m.group(2))) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x720")
    return int(m.group(1)), int(m.group(2))


def parse_colour(text: str) -> tuple[int, int, int]:
    """"#102030", "#123", "16,32,48", "black", "white" or "grey" -> (R, G, B); the spelling of `background`."""
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


@dataclass(frozen=True)
class GalleryConfig:
    """What `dstrtd gallery` shows and how; each field is the option of the same name (`--ken-burns-zoom`)."""

    # -- timing and transitions --
    # why 12 s: time to read the title and the line and to scan the QR code
    hold: float = setting(12.0, "seconds each piece stays fully shown", metavar="S")
    transition: Transition = setting("crossfade", "how pieces change")
    # why 2 s: slow enough to read as a dissolve, short enough not to muddy two pieces
    crossfade: float = setting(2.0, "crossfade length in seconds", metavar="S")
    ken_burns: bool = setting(False, "slow pan/zoom over each piece's whole time on screen")
    # why 1.1: 10 % moves visibly over 15 s and crops little
    ken_burns_zoom: float = setting(1.1, "largest pan/zoom magnification (1.0-2.0)", metavar="Z")
    # -- how a piece fills the screen --
    fit: Fit = setting("letterbox", "letterbox: the whole piece on --background; fill: cover the screen, cropping")
    background: tuple[int, int, int] = setting((0, 0, 0), "letterbox bars, and what transparent pieces are laid on "
                                               "(#102030, #123, 16,32,48, black, white, grey)", parse=parse_colour,
                                               metavar="COLOUR", show="black")
    # -- what comes next --
    order: Order = setting("featured", "featured first, score-weighted, round-robin over clusters/themes, or newest "
                                       "first")
    score_curator: str = setting("aesthetic", "the curator whose latest score weights --order score", metavar="NAME")
    # why 1: on a 1-10 rating, one point is a factor of about 2.7 in weight
    score_temperature: float = setting(1.0, "score points per factor e in weight (--order score)", metavar="T")
    new_first: bool = setting(True, "pieces accepted while running are shown next, before the order resumes")
    seed: int | None = setting(None, "random seed for --order score (none: differs per run)")
    retry_failed: float = setting(600.0, "seconds before a piece that failed to decode is tried again", metavar="S")
    # -- overlays --
    title: bool = setting(True, "the piece's title")
    reflection: bool = setting(True, "the piece's reflection under the title (its own, else its theme's)")
    qr: bool = setting(True, "the QR code of the piece's public page, in --qr-corner")
    qr_corner: Corner = setting("bottom-right", "where the QR code sits")
    base_url: str | None = setting(None, "public pages' base URL", metavar="URL",
                                   show=f"${BASE_URL_ENV}, else {DEFAULT_BASE_URL}")
    # why 55: a common gallery TV
    screen_inches: float = setting(55.0, "the screen's diagonal, for the QR code's physical size", metavar="IN")
    scan_distance: float = setting(2.0, "metres from which a visitor's phone must read the QR code", metavar="M")
    font: str | None = setting(None, "a .ttf/.otf font file", metavar="FILE",
                               show="the first installed of Inter, Noto Sans, DejaVu Sans, Liberation Sans, "
                                    "Helvetica Neue, Helvetica, Segoe UI, Arial (fonts.FACES); else pygame's own")
    # -- schedule --
    hours: str | None = setting(None, 'opening hours, e.g. "10:00-18:00" or "tue-sun 10:00-18:00; mon 12:00-16:00"; '
                                      "outside them the screen is black", metavar="SPEC", show="always open")
    # -- the screen --
    display: int = setting(0, "monitor to use, 0 = primary", metavar="N")
    windowed: tuple[int, int] | None = setting(None, "a window of this size instead of fullscreen (testing)",
                                               parse=parse_size, metavar="WxH", show="fullscreen")
    fps: int = setting(60, "frame rate while something moves (crossfade, pan/zoom)")
    # why 2: events are still answered, the CPU stays near zero
    idle_fps: int = setting(2, "loop rate outside opening hours")
    poll: float = setting(1.0, "seconds between looks at the catalog (its revision and the display's commands)",
                          metavar="S")
    # why 64 Mpx: 8k x 8k, far above any screen, about 256 MB decoded
    max_pixels: int = setting(64_000_000, "larger pieces are skipped", metavar="N")
    # -- stopping and proofs (tests, benchmarks, soak runs) --
    seconds: float | None = setting(None, "stop after this many seconds")
    frames: int | None = setting(None, "stop after this many frames (loop iterations)")
    screenshot: str | None = setting(None, "save the last drawn frame to this PNG when stopping", metavar="PNG")
    state: str | None = setting(None, "resume file", metavar="FILE", show="STUDIO/gallery-state.json")

    def __post_init__(self) -> None:
        checks = [
            *((getattr(self, name) in get_args(kind), f"{name} must be one of {', '.join(get_args(kind))}")
              for name, kind in (("transition", Transition), ("fit", Fit), ("order", Order),
                                 ("qr_corner", Corner))),
            (self.hold >= 0, "hold must be >= 0 seconds"),
            (self.crossfade >= 0, "crossfade must be >= 0 seconds"),
            (1.0 <= self.ken_burns_zoom <= 2.0, "ken_burns_zoom must be between 1.0 and 2.0"),
            (self.score_temperature > 0, "score_temperature must be > 0"),
            (self.screen_inches > 0, "screen_inches must be > 0"),
            (self.scan_distance > 0, "scan_distance must be > 0 metres"),
            (self.fps >= 1 and self.idle_fps > 0, "fps and idle_fps must be positive"),
            (self.poll > 0, "poll must be > 0 seconds"),
            (self.max_pixels > 0, "max_pixels must be > 0"),
            (self.display >= 0, "display must be >= 0"),
            (len(self.background) == 3 and all(0 <= c <= 255 for c in self.background),
             "background must be three 0-255 values"),
            (self.windowed is None or (len(self.windowed) == 2 and min(self.windowed) > 0),
             "windowed must be a positive WxH"),
            (self.seconds is None or self.seconds >= 0, "seconds must be >= 0"),
            (self.frames is None or self.frames >= 0, "frames must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise GalleryError(f"{message}, got {self._value_in(message)}")
        try:
            checked_base_url(self.base_url)  # the QR codes' address: a visitor must be able to open it
        except BaseUrlError as exc:
            raise GalleryError(str(exc)) from None
        if self.hours is not None:
            from installation.gallery.schedule import Schedule

            Schedule.parse(self.hours)  # fails early, with the message of the parser

    def _value_in(self, message: str) -> Any:
        name = message.split()[0]
        return repr(getattr(self, name)) if name in {f.name for f in fields(self)} else "?"

    @property
    def transition_seconds(self) -> float:
        """Length of an automatic transition: 0 for a cut."""
        return 0.0 if self.transition == "cut" else self.crossfade

    @property
    def zoom_max(self) -> float:
        """How much larger than the screen each piece is prepared: room for the pan/zoom, 1 without it."""
        return self.ken_burns_zoom if self.ken_burns else 1.0
