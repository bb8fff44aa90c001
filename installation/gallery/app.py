"""The gallery's pygame loop: events, catalog updates and decoded pieces in; the slideshow's frames out as pixels.

Built for weeks unattended: the catalog is read on its own thread, pieces are decoded on another, nothing the
catalog or a file holds can end the loop, state is saved atomically whenever the piece on screen changes, and
while nothing moves the loop wakes only 10 times a second (twice outside opening hours) and does not redraw.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pygame

from curation.studio import Studio, open_studio
from installation.gallery.config import GalleryConfig, GalleryError
from installation.gallery.images import Prepared
from installation.gallery.preload import Done, Job, Preloader
from installation.gallery.render import Renderer, choose_display_font
from installation.gallery.slideshow import Frame, Slideshow
from installation.gallery.source import CatalogWatcher, Update
from installation.gallery.state import STATE_NAME, load_state, save_state

log = logging.getLogger(__name__)

HOLD_FPS = 10  # loop rate while nothing moves; why: keys answer within 0.1 s and the CPU stays near idle
REDRAW_EVERY = 2.0  # seconds; why: some screens lose the picture on a power cycle without telling the window
MAX_DT = 0.25  # seconds; why: after a stall (swap, suspend) the show resumes smoothly instead of jumping
MAX_LOOP_ERRORS = 100  # consecutive failing frames before the loop gives up and the process exits
HEADLESS_DRIVERS = ("offscreen", "dummy")  # SDL drivers that draw into memory: no one sees them
NOTHING_TO_SHOW_LOG_S = 600.0  # why: a technician reading the journal finds the line within ten minutes, and a
#                                gallery closed for weeks writes 144 lines a day, not thousands
NOTHING_TO_SHOW = ("Nothing to show yet", "No piece is accepted or featured in the catalog. Accept pieces on the "
                   "review page or with dstrtd catalog accept; they appear here within seconds.")


def _headless_without_asking(driver: str) -> bool:
    """Whether SDL fell back to a driver that draws into memory although nobody asked for one: with no X or Wayland
    display to reach, SDL quietly picks "offscreen" and the show "runs" where no one can see it."""
    asked = [d.strip().lower() for d in os.environ.get("SDL_VIDEODRIVER", "").split(",") if d.strip()]
    return driver.lower() in HEADLESS_DRIVERS and driver.lower() not in asked


def _no_display_message(driver: str) -> str:
    display, wayland = os.environ.get("DISPLAY"), os.environ.get("WAYLAND_DISPLAY")
    if display or wayland:
        where = f"DISPLAY={display}" if display else f"WAYLAND_DISPLAY={wayland}"
        why = f"{where} cannot be opened (no X/Wayland server there, or no permission)"
    else:
        why = "DISPLAY and WAYLAND_DISPLAY are unset"
    return (f"no display: {why}, and SDL fell back to its {driver!r} driver, which no one can see; run the gallery "
            "in the screen's session (e.g. DISPLAY=:0 as the logged-in user), or set SDL_VIDEODRIVER=dummy for a "
            "headless test run")


def open_display(config: GalleryConfig) -> tuple[pygame.Surface, tuple[int, int]]:
    """Open the window or fullscreen on `config.display`; returns the surface and the screen's own pixel size.

    The drawing size is read back from the surface: a fullscreen asks for (0, 0), i.e. whatever the monitor is
    (portrait, 4K, HiDPI with scaling), and a window may be resized by the window manager.
    """
    os.environ.setdefault("SDL_VIDEO_MINIMIZE_ON_FOCUS_LOSS", "0")  # a pop-up must not minimise the show
    os.environ.setdefault("SDL_WINDOWS_DPI_AWARENESS", "permonitorv2")  # real pixels on scaled Windows screens
    try:
        pygame.display.init()
    except pygame.error as exc:
        raise GalleryError(f"no display available ({exc}); check DISPLAY / the console, or set "
                           "SDL_VIDEODRIVER=dummy for a headless run") from None
    driver = pygame.display.get_driver()
    if _headless_without_asking(driver):
        pygame.display.quit()
        raise GalleryError(_no_display_message(driver))
    pygame.font.init()
    desktops = pygame.display.get_desktop_sizes()
    if config.display >= len(desktops):
        known = ", ".join(f"{i}: {w}x{h}" for i, (w, h) in enumerate(desktops))
        raise GalleryError(f"display {config.display} does not exist; this machine has {len(desktops)} ({known})")
    fullscreen = config.windowed is None
    try:
        if fullscreen:
            screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN, display=config.display)
        else:
            screen = pygame.display.set_mode(config.windowed, 0, display=config.display)
    except pygame.error as exc:
        raise GalleryError(f"cannot open display {config.display} ({exc})") from None
    pygame.display.set_caption("DSTRTD")
    pygame.display.set_allow_screensaver(False)
    pygame.mouse.set_visible(not fullscreen)
    desktop = desktops[config.display]
    size = screen.get_size()
    fits = size[0] <= desktop[0] and size[1] <= desktop[1]
    physical = desktop if not fullscreen and fits else size  # the monitor's pixels, for the QR's physical size
    log.info("display %d (%s): drawing %dx%d px%s, window %dx%d, desktop %dx%d", config.display,
             pygame.display.get_driver(), *screen.get_size(), " fullscreen" if fullscreen else "",
             *pygame.display.get_window_size(), *desktop)
    return screen, physical


class GalleryApp:
    """`run()` for the real thing; tests call `start()`, then `step(dt)` with a fixed dt, then `close()`."""

    def __init__(self, studio: str | os.PathLike[str] | Studio | None, config: GalleryConfig, *,
                 decode: Callable[[Job], Prepared] | None = None,
                 now: Callable[[], datetime] = datetime.now) -> None:
        self.studio = studio if isinstance(studio, Studio) else open_studio(studio)
        self.config = config
        self.state_path = Path(config.state) if config.state else self.studio.root / STATE_NAME
        self.slideshow = Slideshow(config)
        saved = load_state(self.state_path)
        if saved is not None:
            self.slideshow.restore(saved)
        self._decode = decode
        self._now = now
        self.frames = 0
        self.draws = 0
        self.quit = False
        self._fullscreen = config.windowed is None
        self._deferred: list[Done] = []  # decoded pieces waiting for the end of a crossfade to be converted
        self._wanted: set[int] = set()  # what the last frame wanted decoded
        self._failures: dict[int, tuple[str, str]] = {}  # piece -> (sha256, reason) last logged
        self._converted: set[tuple[int, str]] = set()  # (piece, sha256) whose mode conversion was logged
        self._drawn_key: tuple | None = None
        self._drawn_at = 0.0
        self._dirty = True
        self._saved_key: tuple | None = None
        self._closed_logged: bool | None = None
        self._catalog_read = False  # the watcher's first look is in: an empty set of pieces is now news
        self._nothing_since: datetime | None = None  # when "nothing to show" was last logged (None: something is)
        self._loop_errors = 0
        self.last_frame: Frame | None = None
        self.started = False
        self._overlay_names = frozenset(n for n in ("title", "reflection", "qr") if getattr(config, n))

    # -- life cycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        with self.studio.catalog() as catalog:
            catalog.revision()  # a missing or newer catalog fails here, with its own message, before any window
        fonts = choose_display_font(self.config.font)  # a missing --font FILE fails here too, before any window
        self.screen, self._physical = open_display(self.config)
        self.renderer = Renderer(self.screen, self.config, physical_px=self._physical, fonts=fonts)
        self.preloader = Preloader(self._decode) if self._decode else Preloader()
        self.watcher = CatalogWatcher(self.studio.catalog_location, self.studio.root, poll=self.config.poll,
                                      score_curator=self.config.score_curator)
        self.started = True

    def close(self) -> None:
        if not self.started:
            return
        self.started = False
        self._save_state(force=True)
        if self.config.screenshot:
            try:
                self.renderer.save(self.config.screenshot)
                log.info("screenshot saved to %s", self.config.screenshot)
            except (pygame.error, OSError) as exc:
                log.warning("cannot save the screenshot %s (%s)", self.config.screenshot, exc)
        self.preloader.close()
        self.watcher.close()
        pygame.display.quit()

    def run(self) -> int:
        """Show until quit (key, window close) or until `seconds` / `frames` are reached."""
        self.start()
        try:
            clock = pygame.time.Clock()
            t0 = time.monotonic()
            dt = 0.0
            while not self.quit:
                frame = self._guarded_step(dt)
                if self.config.frames is not None and self.frames >= self.config.frames:
                    break
                if self.config.seconds is not None and time.monotonic() - t0 >= self.config.seconds:
                    break
                if frame is not None and frame.blank:
                    rate = self.config.idle_fps
                elif frame is None or frame.moving or self._dirty or self._deferred:
                    rate = self.config.fps
                else:
                    rate = HOLD_FPS
                dt = min(MAX_DT, clock.tick(max(1, round(rate))) / 1000.0)
        finally:
            self.close()
        log.info("gallery stopped after %d frames (%d drawn)", self.frames, self.draws)
        return 0

    def _guarded_step(self, dt: float) -> Frame | None:
        try:
            frame = self.step(dt)
            self._loop_errors = 0
            return frame
        except (KeyboardInterrupt, SystemExit, GalleryError):
            raise
        except Exception:
            self._loop_errors += 1
            self.frames += 1
            if self._loop_errors == 1:
                log.exception("gallery frame failed; carrying on")
            if self._loop_errors >= MAX_LOOP_ERRORS:
                raise
            time.sleep(0.1)
            return None

    # -- one frame ----------------------------------------------------------------------------------------------

    def step(self, dt: float) -> Frame:
        """Handle events, catalog updates and decoded pieces, advance the slideshow by `dt`, draw if needed."""
        for event in pygame.event.get():
            self._handle_event(event)
        self._check_screen()
        for update in self.watcher.poll():
            if update.pieces is not None:
                self._set_pieces(update)
            for name in update.commands:
                self.command(name, source="control channel")
        self._take_decoded()
        self.slideshow.set_ready(self.renderer.ids())
        frame = self.slideshow.tick(dt, self._now())
        self._log_schedule(frame)
        self._log_nothing_to_show(frame)
        self._request_decodes(frame)
        self._draw(frame)
        self._save_state()
        self.frames += 1
        self.last_frame = frame
        return frame

    def command(self, name: str, source: str = "keyboard") -> None:
        log.info("%s: %s", source, name)
        if name == "quit":
            self.quit = True
        elif name == "fullscreen":
            self._toggle_fullscreen()
        elif name == "reload":
            self.slideshow.forget_failures()
            self._failures.clear()
            self.renderer.clear()
            self.watcher.reload()
        elif not self.slideshow.command(name):
            log.warning("unknown command %r", name)
        self._dirty = True

    # -- inside -------------------------------------------------------------------------------------------------

    _KEYS = {pygame.K_RIGHT: "next", pygame.K_LEFT: "previous", pygame.K_SPACE: "toggle_pause",
             pygame.K_o: "toggle_overlays", pygame.K_f: "fullscreen", pygame.K_q: "quit", pygame.K_ESCAPE: "quit"}

    def _handle_event(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.quit = True
        elif event.type == pygame.KEYDOWN and event.key in self._KEYS:
            self.command(self._KEYS[event.key])
        elif event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE, pygame.WINDOWSIZECHANGED,
                            pygame.WINDOWRESTORED, pygame.WINDOWSHOWN):
            self._dirty = True

    def _check_screen(self) -> None:
        surface = pygame.display.get_surface()
        if surface is not None and (surface is not self.renderer.screen or surface.get_size() != self.renderer.size):
            log.info("screen is now %dx%d px", *surface.get_size())
            self.screen = surface
            self.renderer.resize(surface, surface.get_size() if self._fullscreen else self._physical)
            self._dirty = True

    def _toggle_fullscreen(self) -> None:
        self._fullscreen = not self._fullscreen
        if self._fullscreen:
            size, flags = (0, 0), pygame.FULLSCREEN
        else:
            desktop = pygame.display.get_desktop_sizes()[self.config.display]
            size, flags = self.config.windowed or (desktop[0] // 2, desktop[1] // 2), 0
        try:
            pygame.display.set_mode(size, flags, display=self.config.display)
        except pygame.error as exc:
            log.warning("cannot switch fullscreen %s (%s)", "on" if self._fullscreen else "off", exc)
            self._fullscreen = not self._fullscreen
        pygame.mouse.set_visible(not self._fullscreen)
        self._check_screen()

    def _set_pieces(self, update: Update) -> None:
        self._catalog_read = True
        before = set(self.slideshow.pieces)
        self.slideshow.set_pieces(update.pieces)
        self._dirty = True  # why: an edited title or reflection of the piece on screen shows now, not at REDRAW_EVERY
        after = set(self.slideshow.pieces)
        if after != before:
            log.info("catalog: %d pieces to show (%d new, %d gone)", len(after), len(after - before),
                     len(before - after))
        for pid in list(self._failures):
            piece = self.slideshow.pieces.get(pid)
            if piece is None or piece.sha256 != self._failures[pid][0]:
                del self._failures[pid]

    def _take_decoded(self) -> None:
        self._deferred += self.preloader.poll()
        if not self._deferred:
            return
        # converting a canvas for the display costs a few ms on the main thread: never in the middle of a fade
        in_transition = self.slideshow.incoming is not None
        keep = []
        for done in self._deferred:
            piece = self.slideshow.pieces.get(done.job.piece_id)
            if piece is None or piece.sha256 != done.job.sha256 or piece.id not in self._wanted:
                continue  # removed, replaced or no longer needed meanwhile
            if done.problem is not None:
                self._report_failure(piece.id, piece.slug, piece.sha256, done.problem, piece.path)
                self.slideshow.mark_failed(piece.id)
            elif in_transition:
                keep.append(done)
            elif done.prepared is not None and self.renderer.add(piece.id, piece.sha256, done.prepared):
                self.renderer.warm(piece, self._overlay_names)  # its text and code now, not mid-crossfade
                mode = done.prepared.source_mode
                if mode != "RGB" and (piece.id, piece.sha256) not in self._converted:
                    log.info("piece %s is %s; shown converted to RGB", piece.slug, mode)
                    self._converted.add((piece.id, piece.sha256))
                log.debug("piece %s decoded in %.0f ms (%dx%d %s)", piece.slug, done.seconds * 1000,
                          *done.prepared.source_size, mode)
        self._deferred = keep

    def _report_failure(self, pid: int, slug: str, sha256: str, reason: str, path: str) -> None:
        if self._failures.get(pid) != (sha256, reason):
            log.warning("piece %s skipped: %s (%s)", slug, reason, path)
            self._failures[pid] = (sha256, reason)

    def _request_decodes(self, frame: Frame) -> None:
        jobs = []
        waiting = {done.job for done in self._deferred}  # decoded, converted after the crossfade: not again
        for pid in frame.wanted:
            piece = self.slideshow.pieces.get(pid)
            if piece is not None and not self.renderer.has(pid, piece.sha256):
                job = Job(pid, piece.path, piece.sha256, self.renderer.canvas_size, self.config.fit,
                          self.config.background, self.config.max_pixels)
                if job not in waiting:
                    jobs.append(job)
        self.preloader.want(jobs)
        self.renderer.keep_only(frame.wanted)
        self._wanted = set(frame.wanted)

    def _draw(self, frame: Frame) -> None:
        message = self.nothing_to_show and not frame.blank
        key = (frame.current, frame.incoming, frame.alpha, frame.current_view, frame.incoming_view,
               frame.overlays, frame.blank, self.renderer.version, message)
        now = time.monotonic()
        if key == self._drawn_key and not frame.moving and not self._dirty and now - self._drawn_at < REDRAW_EVERY:
            return
        try:
            if message:
                self.renderer.draw_message(*NOTHING_TO_SHOW)
            else:
                self.renderer.draw(frame, self.slideshow.pieces)
        except pygame.error as exc:  # e.g. a title the font cannot render: show the pieces without overlays
            log.warning("drawing failed (%s); showing this frame without overlays", exc)
            self.renderer.draw(dataclasses.replace(frame, overlays=frozenset()), self.slideshow.pieces)
        pygame.display.flip()
        self.draws += 1
        self._drawn_key, self._drawn_at, self._dirty = key, now, False

    @property
    def nothing_to_show(self) -> bool:
        """The catalog was read and holds no piece to show (none accepted or featured, or none whose file is there)."""
        return self._catalog_read and not self.slideshow.pieces

    def _log_nothing_to_show(self, frame: Frame) -> None:
        """A warning when there is nothing to show, again every NOTHING_TO_SHOW_LOG_S while it lasts (a black screen
        in an open gallery must be found in the journal); a line when pieces are back."""
        if not self.nothing_to_show or frame.blank:
            if self._nothing_since is not None and self.slideshow.pieces:
                log.info("pieces to show again: %d", len(self.slideshow.pieces))
                self._nothing_since = None
            return
        now = self._now()
        if self._nothing_since is None or (now - self._nothing_since).total_seconds() >= NOTHING_TO_SHOW_LOG_S:
            log.warning("nothing to show: no piece of %s is accepted or featured (or none has its image); accept "
                        "some with `dstrtd catalog accept SLUG`, `dstrtd curate` or the review page (this line "
                        "repeats every %.0f minutes while it lasts)", self.studio.root, NOTHING_TO_SHOW_LOG_S / 60)
            self._nothing_since = now

    def _log_schedule(self, frame: Frame) -> None:
        if frame.blank == self._closed_logged:
            return
        if self._closed_logged is not None or frame.blank:
            change = self.slideshow.schedule.next_change(self._now())
            log.info("%s%s", "closed: screen black" if frame.blank else "open: showing pieces",
                     f" until {change:%a %H:%M}" if change else "")
        self._closed_logged = frame.blank

    def _save_state(self, force: bool = False) -> None:
        show = self.slideshow
        key = (show.current, show.paused, show.overlays_on)
        if (key != self._saved_key and show.current is not None) or (force and self._saved_key is not None):
            save_state(self.state_path, show.snapshot())
            self._saved_key = key
