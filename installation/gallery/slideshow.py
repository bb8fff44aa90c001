"""The slideshow as a pure state machine: `tick(dt)` says what to draw; nothing here knows pygame or files.

The loop feeds it the catalog's pieces (`set_pieces`), which pieces are decoded (`set_ready`) or broken
(`mark_failed`), and the visitor's or the web's commands (`next`, `previous`, `pause`, ...). It answers with a
`Frame`: the piece on screen, the piece fading in and its opacity, each one's pan/zoom, the overlays to draw, whether
the screen is blank (closed hours), and which pieces it wants decoded soon (`wanted`).

A piece only comes on screen once it is decoded, so a slow or broken file delays or skips a piece but never shows
half of one. `snapshot()` / `restore()` carry the position across a restart.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from installation.gallery.config import GalleryConfig
from installation.gallery.order import POLICIES, PieceInfo
from installation.gallery.schedule import Schedule

MANUAL_TRANSITION = 0.5  # seconds, at most; why: a key press or web "next" should answer at once, not in 2 s
MAX_HISTORY = 500  # pieces remembered for "previous" and for the policies; a bounded list for weeks of running
STATE_VERSION = 1


@dataclass(frozen=True)
class View:
    """The part of a piece's prepared canvas to show: `zoom` 1 is the whole canvas, `zoom_max` (the config's
    `zoom_max`) a screen-sized window of it; `cx`, `cy` are the window's centre as fractions of the canvas."""

    zoom: float = 1.0
    cx: float = 0.5
    cy: float = 0.5


@dataclass(frozen=True)
class Frame:
    current: int | None  # piece on screen (None: background only)
    incoming: int | None  # piece fading in over it
    alpha: float  # the incoming piece's opacity, 0..1 (eased)
    current_view: View
    incoming_view: View
    overlays: frozenset[str]  # of "title", "reflection", "qr": what to draw over each piece
    blank: bool  # outside opening hours: draw black and idle
    paused: bool
    wanted: tuple[int, ...]  # pieces that should be decoded now: on screen, fading in, next
    moving: bool  # the next frame will differ even without events (a transition or a pan/zoom is running)


def smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def ken_burns_view(piece_id: int, showing: int, t: float, zoom_max: float) -> View:
    """A slow pan/zoom over one showing of a piece, `t` in [0, 1] over its time on screen.

    Deterministic for (piece, showing): a restart replays the same path; each showing takes another one. The window
    always stays inside the canvas.
    """
    if zoom_max <= 1.0:
        return View()
    r = random.Random(piece_id * 1_000_003 + showing)
    z0, z1 = (1.0, zoom_max) if r.random() < 0.5 else (zoom_max, 1.0)
    ux0, uy0, ux1, uy1 = (r.random() for _ in range(4))
    t = min(1.0, max(0.0, t))
    zoom = z0 + (z1 - z0) * t
    half = 0.5 / zoom
    cx = half + (1.0 - 2.0 * half) * (ux0 + (ux1 - ux0) * t)
    cy = half + (1.0 - 2.0 * half) * (uy0 + (uy1 - uy0) * t)
    return View(zoom, cx, cy)


class Slideshow:
    def __init__(self, config: GalleryConfig, *, schedule: Schedule | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.schedule = schedule if schedule is not None else Schedule.parse(config.hours)
        self._policy = POLICIES[config.order]
        self._rng = rng if rng is not None else random.Random(config.seed)
        self.pieces: dict[int, PieceInfo] = {}
        self.history: list[int] = []  # shown pieces, oldest first; `_cursor` indexes the one on screen
        self._cursor = -1
        self.current: int | None = None
        self.incoming: int | None = None
        self.upcoming: int | None = None
        self._incoming_index: int | None = None  # history index the incoming piece takes (None: appended)
        self._upcoming_index: int | None = None
        self._phase_time = 0.0  # seconds into the current hold, or into the current transition
        self._transition_len = 0.0
        self._skip = False  # a "next"/"previous" waits for its piece to be decoded
        self._ages: dict[int, float] = {}  # seconds since a piece on screen began to fade in (pan/zoom clock)
        self._showing: dict[int, int] = {}  # piece -> number of its showing (pan/zoom path)
        self._showings = 0
        self._ready: set[int] = set()
        self._failed: dict[int, tuple[str, float]] = {}  # piece -> (sha256, clock) of its last failed decode
        self._fresh: list[int] = []  # accepted while running: shown next
        self._loaded = False
        self._restore: Mapping[str, Any] | None = None
        self._resume_elapsed = 0.0  # hold already spent on the restored piece before the restart
        self._clock = 0.0
        self.paused = False
        self.overlays_on = True
        self.closed = False

    # -- what the loop tells it ---------------------------------------------------------------------------------

    def set_pieces(self, pieces: Iterable[PieceInfo]) -> None:
        """The catalog's current showable pieces (the whole set, each time it changes)."""
        new = {p.id: p for p in pieces}
        if self._loaded and self.config.new_first:
            arrived = sorted(set(new) - set(self.pieces) - set(self._fresh))
            self._fresh += arrived
            if arrived and self._upcoming_index is None:
                self.upcoming = None  # the policy's pick waits; a "previous" in progress does not
        self.pieces = new
        self._fresh = [pid for pid in self._fresh if pid in new]
        for pid, (sha, _) in list(self._failed.items()):
            if pid not in new or new[pid].sha256 != sha:
                del self._failed[pid]
        self._ready &= set(new)
        self._showing = {pid: n for pid, n in self._showing.items() if pid in new}
        if not self._loaded:
            self._loaded = True
            if self._restore is not None:
                self._apply_restore(self._restore)
                self._restore = None
        if self.upcoming is not None and self.upcoming not in new:
            self.upcoming = None
        if self.incoming is not None and self.incoming not in new:
            self.incoming = None  # abandon the transition; the piece on screen stays until the next one is ready
            self._phase_time = self.config.hold
        if self.current is not None and self.current not in new:
            self._leave_current()

    def set_ready(self, piece_ids: Iterable[int]) -> None:
        """Exactly these pieces are decoded and drawable (the renderer's cache, which also forgets)."""
        self._ready = set(piece_ids) & set(self.pieces)

    def mark_failed(self, piece_id: int) -> None:
        """The piece cannot be decoded: skip it (until its file changes or `retry_failed` seconds pass)."""
        piece = self.pieces.get(piece_id)
        self._failed[piece_id] = (piece.sha256 if piece else "", self._clock)
        self._ready.discard(piece_id)
        if self.upcoming == piece_id:
            self.upcoming, self._resume_elapsed = None, 0.0

    def forget_failures(self) -> None:
        """Try every piece again (the "reload" command)."""
        self._failed.clear()

    # -- commands -----------------------------------------------------------------------------------------------

    def next(self) -> None:
        self._finish_transition()
        if self.upcoming is None:
            self._choose_upcoming()
        self._skip = True

    def previous(self) -> None:
        self._finish_transition()
        for i in range(self._cursor - 1, -1, -1):
            pid = self.history[i]
            if self._showable(pid) and pid != self.current:
                self.upcoming, self._upcoming_index, self._skip = pid, i, True
                return

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def toggle_pause(self) -> None:
        self.paused = not self.paused

    def toggle_overlays(self) -> None:
        self.overlays_on = not self.overlays_on

    def command(self, name: str) -> bool:
        """Apply a control-channel command by name; False for a name it does not know."""
        actions = {"next": self.next, "previous": self.previous, "pause": self.pause, "resume": self.resume,
                   "toggle_pause": self.toggle_pause, "toggle_overlays": self.toggle_overlays,
                   "reload": self.forget_failures}
        action = actions.get(name)
        if action is None:
            return False
        action()
        return True

    # -- the clock ----------------------------------------------------------------------------------------------

    def tick(self, dt: float, now: datetime | None = None) -> Frame:
        """Advance by `dt` seconds; `now` (local wall-clock time) decides opening hours (None: open)."""
        dt = max(0.0, dt)
        self._clock += dt
        self.closed = now is not None and not self.schedule.is_open(now)
        if self.closed:
            return self._frame()
        if self.incoming is not None:  # a transition always completes, paused or not
            self._phase_time += dt
            self._age(dt)
            if self._phase_time >= self._transition_len:
                self._finish_transition()
        elif not self.paused:
            self._phase_time += dt
            self._age(dt)
        if self.upcoming is None or not self._showable(self.upcoming):
            self._choose_upcoming()
        if self.incoming is None:
            due = self.current is None or self._skip or (not self.paused and self._phase_time >= self.config.hold)
            if due and self.upcoming is not None and self.upcoming in self._ready:
                self._start_transition()
        return self._frame()

    # -- resume -------------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What a restart needs to continue here (JSON-able; pieces by slug, which outlives ids in a copy)."""
        slugs = [self.pieces[p].slug for p in self.history[: self._cursor + 1] if p in self.pieces]
        on_screen = self.current if self.current is not None else self.incoming
        return {
            "version": STATE_VERSION,
            "current": self.pieces[on_screen].slug if on_screen in self.pieces else None,
            "history": slugs[-100:],
            "paused": self.paused,
            "overlays": self.overlays_on,
            "hold_elapsed": round(self._phase_time, 3) if self.incoming is None and self.current is not None else 0,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from `snapshot()`'s output; applied when the pieces first arrive. Unknown slugs are dropped."""
        if state.get("version") != STATE_VERSION:
            return
        self.paused = bool(state.get("paused", False))
        self.overlays_on = bool(state.get("overlays", True))
        if self._loaded:
            self._apply_restore(state)
        else:
            self._restore = state

    def _apply_restore(self, state: Mapping[str, Any]) -> None:
        ids = {p.slug: p.id for p in self.pieces.values()}
        history: list[int] = []
        for slug in state.get("history") or []:
            pid = ids.get(slug) if isinstance(slug, str) else None
            if pid is not None and (not history or history[-1] != pid):
                history.append(pid)
        current = ids.get(state.get("current")) if isinstance(state.get("current"), str) else None
        if current is not None and (not history or history[-1] != current):
            history.append(current)
        self.history = history[-MAX_HISTORY:]
        self._cursor = len(self.history) - 1
        if current is not None:
            self.upcoming, self._upcoming_index = current, self._cursor
            elapsed = state.get("hold_elapsed", 0)
            self._resume_elapsed = float(elapsed) if isinstance(elapsed, int | float) else 0.0

    # -- inside -------------------------------------------------------------------------------------------------

    def _showable(self, pid: int) -> bool:
        if pid not in self.pieces:
            return False
        failed = self._failed.get(pid)
        return failed is None or self._clock - failed[1] >= self.config.retry_failed

    def _choose_upcoming(self) -> None:
        """Pick what follows the piece on screen, or the one fading in while a crossfade runs (so it is decoded
        during the crossfade too)."""
        self.upcoming, self._upcoming_index = None, None
        following = self.incoming if self.incoming is not None else self.current
        on_screen = {following} if following is not None else set()  # the piece fading out may come back next
        if self.incoming is not None and self._incoming_index is None:  # a new piece: history ends with it
            history, forward_from = self.history[: self._cursor + 1] + [self.incoming], len(self.history)
        else:
            at = self._incoming_index if self.incoming is not None else self._cursor
            history, forward_from = self.history[: at + 1], at + 1
        for i in range(forward_from, len(self.history)):  # after "previous", go forward again first
            pid = self.history[i]
            if self._showable(pid) and pid not in on_screen:
                self.upcoming, self._upcoming_index = pid, i
                return
        for pid in self._fresh:
            if self._showable(pid) and pid not in on_screen:
                self.upcoming = pid
                return
        showable = [p for p in self.pieces.values() if self._showable(p.id)]
        # the policies continue after the piece on screen, or after the last one shown (a restart, a broken file)
        anchor = history[-1] if history else None
        self.upcoming = self._policy(showable, history, anchor, on_screen, self._rng, self.config.score_temperature)

    def _start_transition(self) -> None:
        assert self.upcoming is not None
        manual = self._skip
        self.incoming, self._incoming_index = self.upcoming, self._upcoming_index
        self.upcoming, self._upcoming_index, self._skip = None, None, False
        self._fresh = [pid for pid in self._fresh if pid != self.incoming]
        self._phase_time = 0.0
        length = self.config.transition_seconds
        self._transition_len = min(length, MANUAL_TRANSITION) if manual else length
        self._ages[self.incoming] = 0.0
        self._showings += 1
        self._showing[self.incoming] = self._showings
        if self._transition_len <= 0.0:
            self._finish_transition()

    def _finish_transition(self) -> None:
        if self.incoming is None:
            return
        pid, index = self.incoming, self._incoming_index
        if index is not None and index < len(self.history) and self.history[index] == pid:
            self._cursor = index
        else:
            self.history = self.history[: self._cursor + 1] + [pid]
            if len(self.history) > MAX_HISTORY:
                self.history = self.history[-MAX_HISTORY:]
            self._cursor = len(self.history) - 1
        if self.current is not None and self.current != pid:
            self._ages.pop(self.current, None)
        self.current, self.incoming, self._incoming_index = pid, None, None
        self._phase_time, self._resume_elapsed = self._resume_elapsed, 0.0
        if self.upcoming is None or self.upcoming == pid:
            self._choose_upcoming()

    def _leave_current(self) -> None:
        """The piece on screen was removed: go to the next one now, or to the background if none is ready."""
        self._ages.pop(self.current, None)
        if self.incoming is not None:
            self.current = None  # the transition continues as a fade-in from the background
            return
        self._choose_upcoming()
        if self.upcoming is not None and self.upcoming in self._ready:
            self._skip = True
            self._start_transition()
            self.current = None if self.incoming is not None else self.current
        else:
            self.current = None
        self._phase_time = 0.0

    def _age(self, dt: float) -> None:
        for pid in (self.current, self.incoming):
            if pid is not None:
                self._ages[pid] = self._ages.get(pid, 0.0) + dt

    def _view(self, pid: int | None) -> View:
        if pid is None or not self.config.ken_burns:
            return View()
        lifetime = max(1e-6, self.config.hold + 2.0 * self.config.transition_seconds)
        return ken_burns_view(pid, self._showing.get(pid, 0), self._ages.get(pid, 0.0) / lifetime,
                              self.config.zoom_max)

    def _frame(self) -> Frame:
        alpha = 0.0
        if self.incoming is not None:
            alpha = smoothstep(self._phase_time / self._transition_len) if self._transition_len > 0 else 1.0
        overlays = frozenset()
        if self.overlays_on:
            overlays = frozenset(name for name in ("title", "reflection", "qr") if getattr(self.config, name))
        wanted = tuple(dict.fromkeys(p for p in (self.current, self.incoming, self.upcoming) if p is not None))
        panning = self.config.ken_burns and self.current is not None and not self.paused
        return Frame(
            current=self.current, incoming=self.incoming, alpha=alpha,
            current_view=self._view(self.current), incoming_view=self._view(self.incoming),
            overlays=overlays, blank=self.closed, paused=self.paused, wanted=wanted,
            moving=not self.closed and (self.incoming is not None or panning),
        )
