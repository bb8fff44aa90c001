"""The gallery's settings: one frozen dataclass; `dstrtd gallery` options carry the same names as its fields."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from installation.errors import InstallationError

TRANSITIONS = ("crossfade", "cut")
FITS = ("letterbox", "fill")
ORDERS = ("featured", "score", "clusters", "newest")
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


class GalleryError(InstallationError):
    """A setting or a display the user can fix; the CLI prints the message on one line."""


@dataclass(frozen=True)
class GalleryConfig:
    # -- timing and transitions --
    hold: float = 12.0  # seconds a piece stays fully shown; why: time to read the title and line and scan the QR
    transition: str = "crossfade"  # crossfade | cut
    crossfade: float = 2.0  # seconds; why: slow enough to read as a dissolve, short enough not to muddy two pieces
    ken_burns: bool = False  # slow pan/zoom over each piece's whole time on screen
    ken_burns_zoom: float = 1.1  # largest zoom of the pan/zoom; why: 10 % moves visibly over 15 s, crops little
    # -- how a piece fills the screen --
    fit: str = "letterbox"  # letterbox (whole piece, bars in `background`) | fill (covers the screen, crops)
    background: tuple[int, int, int] = (0, 0, 0)  # letterbox bars, and what transparent pieces are laid on
    # -- what comes next --
    order: str = "featured"  # featured | score | clusters | newest
    score_curator: str = "aesthetic"  # the curator whose latest score weights `order=score`
    score_temperature: float = 1.0  # score points per factor e in weight; why: a 1-10 rating, one point ~ 2.7x
    new_first: bool = True  # pieces accepted while running are shown next, before the order resumes
    seed: int | None = None  # for `order=score`; None: differs per run
    retry_failed: float = 600.0  # seconds before a piece that failed to decode is tried again
    # -- overlays --
    title: bool = True
    reflection: bool = True  # the reflection under the title (the piece's own, else its theme's)
    qr: bool = True  # the QR code of the piece's public page, in `qr_corner`
    qr_corner: str = "bottom-right"
    base_url: str | None = None  # public pages' base; None: $DSTRTD_BASE_URL, else http://localhost:8000
    screen_inches: float = 55.0  # assumed diagonal of the screen; why: a common gallery TV; sizes the QR modules
    scan_distance: float = 2.0  # metres from which a visitor's phone must read the QR code
    font: str | None = None  # a .ttf/.otf file; None: the first installed of `fonts.FACES`, else pygame's own
    # -- schedule --
    hours: str | None = None  # opening hours, e.g. "10:00-18:00" or "tue-sun 10:00-18:00"; None: always open
    # -- the screen --
    display: int = 0  # which monitor (0 = primary)
    windowed: tuple[int, int] | None = None  # (W, H) for a window instead of fullscreen (testing)
    fps: int = 60  # frame rate while something moves (crossfade, pan/zoom)
    idle_fps: int = 2  # loop rate outside opening hours; why: events still answered, CPU near zero
    poll: float = 1.0  # seconds between looks at the catalog (revision and the display commands)
    max_pixels: int = 64_000_000  # larger pieces are skipped; why: 8k x 8k, far above any screen, ~256 MB decoded
    # -- stopping and proofs (tests, benchmarks, soak runs) --
    seconds: float | None = None  # stop after this many seconds
    frames: int | None = None  # stop after this many frames (loop iterations)
    screenshot: str | None = None  # save the last drawn frame to this PNG when stopping
    state: str | None = None  # resume file; None: <studio>/gallery-state.json

    def __post_init__(self) -> None:
        checks = [
            (self.transition in TRANSITIONS, f"transition must be one of {', '.join(TRANSITIONS)}"),
            (self.fit in FITS, f"fit must be one of {', '.join(FITS)}"),
            (self.order in ORDERS, f"order must be one of {', '.join(ORDERS)}"),
            (self.qr_corner in CORNERS, f"qr_corner must be one of {', '.join(CORNERS)}"),
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
