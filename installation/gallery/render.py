"""Turning a `Frame` into pixels with pygame. Every piece is scaled once (on the preload thread) to a canvas the size
of the screen (times the pan/zoom margin); a crossfade is two blits, the second with surface alpha; overlays are
rendered once per piece and blitted with the same alpha. Only the pan/zoom scales per frame (smoothscale of a
window of the canvas into a reusable scratch surface).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pygame

from curation.public import piece_url
from installation.gallery.config import GalleryConfig
from installation.gallery.fonts import FontChoice, choose_font
from installation.gallery.images import RAW_MODE, Prepared
from installation.gallery.order import PieceInfo
from installation.gallery.overlay import (
    BODY_LINES,
    QR_ERROR,
    TITLE_LINES,
    QrSize,
    TextLayout,
    balanced_wrap,
    qr_size,
    text_layout,
    text_width,
    wrap,
)
from installation.gallery.slideshow import Frame, View
from installation.qr import qr_image, qr_matrix

log = logging.getLogger(__name__)

TEXT_COLOUR = (245, 245, 240)
PANEL_COLOUR = (0, 0, 0, 185)  # why: over a white piece the panel is grey 70, text 8.5:1 (WCAG AAA is 7:1); the piece
#                                still shows through
BUNDLED_SCALE = 0.6875  # pygame draws its bundled font this much smaller than asked; we undo it to match other faces


def pygame_loads(path: str) -> bool:
    """Whether pygame can open `path` as a font (pygame.font must be initialised)."""
    try:
        pygame.font.Font(path, 12).size("Ag")  # why: pygame-ce opens some broken files and fails only when used
        return True
    except (OSError, pygame.error, ValueError):
        return False


def choose_display_font(font: str | None) -> FontChoice:
    """`fonts.choose_font` with pygame's loader and fontconfig lookup; logs the choice on one line."""
    if not pygame.font.get_init():
        pygame.font.init()

    def match(family: str) -> str | None:
        try:
            return pygame.font.match_font(family)
        except Exception as exc:  # fontconfig missing or broken: the bundled font still works
            log.debug("fontconfig lookup of %s failed (%s)", family, exc)
            return None

    choice = choose_font(font, match=match, loads=pygame_loads)
    log.info("%s", choice.describe())
    return choice


@dataclass
class _Canvas:
    sha256: str
    surface: pygame.Surface
    stale: bool = False  # rescaled from another screen size; a fresh decode is on its way


class Renderer:
    """Draws frames onto `screen`; holds the decoded canvases and overlay surfaces of the pieces it is told to keep."""

    def __init__(self, screen: pygame.Surface, config: GalleryConfig, *, physical_px: tuple[int, int] | None = None,
                 fonts: FontChoice | None = None):
        self.config = config
        self.fonts = fonts if fonts is not None else choose_display_font(config.font)
        self._canvases: dict[int, _Canvas] = {}
        self._overlays: dict[tuple[int | str, ...], pygame.Surface | None] = {}
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._qr_logged: QrSize | None = None
        self.version = 0  # grows whenever what a frame would look like changed (new canvas, new size)
        self.resize(screen, physical_px)

    # -- the screen ---------------------------------------------------------------------------------------------

    def resize(self, screen: pygame.Surface, physical_px: tuple[int, int] | None = None) -> None:
        """A new display surface (start, fullscreen toggle, rotation). Canvases are rescaled now so the show goes
        on, and marked stale so the loop decodes them again at full quality."""
        self.screen = screen
        self.size = screen.get_size()
        self.physical_px = physical_px or self.size  # pixels of the whole screen, for the QR's physical size
        self.layout = text_layout(self.size)
        zoom = self.config.zoom_max
        self.canvas_size = (max(1, round(self.size[0] * zoom)), max(1, round(self.size[1] * zoom)))
        self._scratch: list[pygame.Surface] = []
        self._overlays.clear()
        self._fonts.clear()
        for canvas in self._canvases.values():
            if canvas.surface.get_size() != self.canvas_size:
                canvas.surface = _letterbox(canvas.surface, self.canvas_size, self.config.background)
                canvas.stale = True
        self.version += 1

    # -- canvases -----------------------------------------------------------------------------------------------

    def has(self, piece_id: int, sha256: str) -> bool:
        """Whether the piece's current file is decoded at the current size (else the loop should ask for it)."""
        canvas = self._canvases.get(piece_id)
        return canvas is not None and canvas.sha256 == sha256 and not canvas.stale

    def ids(self) -> set[int]:
        """Pieces that can be drawn now (possibly from a stale canvas)."""
        return set(self._canvases)

    def add(self, piece_id: int, sha256: str, prepared: Prepared) -> bool:
        """Turn prepared pixels into a display surface (main thread: needs the display's pixel format).
        False when they were made for another screen size (a resize happened meanwhile)."""
        if prepared.size != self.canvas_size:
            return False
        surface = pygame.image.frombuffer(prepared.data, prepared.size, RAW_MODE).convert()
        self._canvases[piece_id] = _Canvas(sha256, surface)
        self._drop_overlays(piece_id)
        self.version += 1
        return True

    def keep_only(self, piece_ids: Iterable[int]) -> None:
        keep = set(piece_ids)
        for pid in [p for p in self._canvases if p not in keep]:
            del self._canvases[pid]
            self._drop_overlays(pid)

    def clear(self) -> None:
        self._canvases.clear()
        self._overlays.clear()
        self.version += 1

    def _drop_overlays(self, piece_id: int) -> None:
        for key in [k for k in self._overlays if k[0] == piece_id]:
            del self._overlays[key]

    # -- drawing ------------------------------------------------------------------------------------------------

    def draw(self, frame: Frame, pieces: Mapping[int, PieceInfo]) -> None:
        screen = self.screen
        if frame.blank:
            screen.fill((0, 0, 0))
            return
        current = self._canvases.get(frame.current) if frame.current is not None else None
        incoming = self._canvases.get(frame.incoming) if frame.incoming is not None else None
        if current is None:  # canvases cover the whole screen, bars included: no fill needed under them
            screen.fill(self.config.background)
        if current is not None:
            self._blit(current.surface, frame.current_view, 255, 0)
        if incoming is not None:
            self._blit(incoming.surface, frame.incoming_view, round(frame.alpha * 255), 1)
        if frame.overlays:
            # one after the other (out in the first half, in in the second), so two texts or codes never overlap
            if current is not None and frame.current in pieces:
                alpha = 255 if incoming is None else round(max(0.0, 1.0 - 2.0 * frame.alpha) * 255)
                self._draw_overlays(pieces[frame.current], frame.overlays, alpha)
            if incoming is not None and frame.incoming in pieces:
                alpha = round((frame.alpha if current is None else max(0.0, 2.0 * frame.alpha - 1.0)) * 255)
                self._draw_overlays(pieces[frame.incoming], frame.overlays, alpha)

    def draw_message(self, title: str, text: str) -> None:
        """A notice in the middle of an otherwise empty screen (the same panel as the overlays), e.g. when there is
        nothing to show: a technician passing by must not mistake it for a dead screen."""
        self.screen.fill(self.config.background)
        key = ("message", title, text)
        if key not in self._overlays:
            lay = self.layout
            inner = max(1, min(lay.measure, self.size[0] - 2 * self.margin) - 2 * lay.pad_x)
            bold, body = self._font(lay.title_px, bold=True), self._font(lay.body_px)
            blocks = [(bold, wrap(title, inner, lambda s: bold.size(s)[0], TITLE_LINES), lay.title_advance),
                      (body, wrap(text, inner, lambda s: body.size(s)[0], BODY_LINES), lay.body_advance)]
            self._overlays[key] = _panel([b for b in blocks if b[1]], lay)
        panel = self._overlays[key]
        if panel is not None:
            self.screen.blit(panel, panel.get_rect(center=(self.size[0] // 2, self.size[1] // 2)))

    def _blit(self, surface: pygame.Surface, view: View, alpha: int, layer: int) -> None:
        if alpha <= 0:
            return
        cw, ch = surface.get_size()
        sw, sh = max(1, min(cw, round(cw / view.zoom))), max(1, min(ch, round(ch / view.zoom)))
        x = min(max(0, round(view.cx * cw - sw / 2)), cw - sw)
        y = min(max(0, round(view.cy * ch - sh / 2)), ch - sh)
        area = pygame.Rect(x, y, sw, sh)
        if area.size == self.size:
            source, area_arg = surface, area
        else:  # pan/zoom: scale the window of the canvas to the screen
            while len(self._scratch) <= layer:
                self._scratch.append(pygame.Surface(self.size).convert())
            source, area_arg = self._scratch[layer], None
            pygame.transform.smoothscale(surface.subsurface(area), self.size, source)
        source.set_alpha(None if alpha >= 255 else alpha)
        self.screen.blit(source, (0, 0), area_arg)

    # -- overlays -----------------------------------------------------------------------------------------------

    def _font(self, px: int, bold: bool = False) -> pygame.font.Font:
        key = (px, bold)
        if key not in self._fonts:
            path = self.fonts.bold if bold else self.fonts.regular
            try:
                self._fonts[key] = pygame.font.Font(path, px if path else round(px / BUNDLED_SCALE))
            except (OSError, pygame.error) as exc:  # the file went away or broke while running
                log.warning("font %s unusable (%s); using pygame's own", path, exc)
                self._fonts[key] = pygame.font.Font(None, round(px / BUNDLED_SCALE))
        return self._fonts[key]

    @property
    def margin(self) -> int:
        return max(4, round(0.035 * min(self.size)))

    def warm(self, piece: PieceInfo, which: frozenset[str]) -> None:
        """Make the piece's overlays now (a few ms), so the first frame that shows them does not have to: the loop
        calls this outside crossfades. A text the font cannot render is logged here and tried again when drawn."""
        try:
            self._placed_overlays(piece, which)
        except pygame.error as exc:
            log.warning("overlays of %s could not be made (%s)", piece.slug, exc)

    def _draw_overlays(self, piece: PieceInfo, which: frozenset[str], alpha: int) -> None:
        if alpha <= 0:
            return
        for surface, rect in self._placed_overlays(piece, which):
            # never set_alpha(None) on the text panel: that would switch off its per-pixel alpha
            opaque = alpha >= 255 and not surface.get_flags() & pygame.SRCALPHA
            surface.set_alpha(None if opaque else alpha)
            self.screen.blit(surface, rect)

    def _placed_overlays(self, piece: PieceInfo, which: frozenset[str]) -> list[tuple[pygame.Surface, pygame.Rect]]:
        """The piece's QR code and text panel (made once, then cached) and where they go on the screen."""
        placed = []
        m = self.margin
        qr = self._overlay(piece, "qr") if "qr" in which else None
        qr_rect = None
        if qr is not None:
            qr_rect = qr.get_rect()
            corner = self.config.qr_corner
            qr_rect.bottom = self.size[1] - m if corner.startswith("bottom") else m + qr_rect.height
            qr_rect.right = self.size[0] - m if corner.endswith("right") else m + qr_rect.width
            placed.append((qr, qr_rect))
        text_kind = "+".join(k for k in ("title", "reflection") if k in which)
        text_kind += "@qr" if qr_rect is not None else ""  # the text is narrower beside a code
        if text_kind.split("@")[0]:
            text = self._overlay(piece, text_kind, qr_rect)
            if text is not None:
                rect = text.get_rect()
                rect.left = m
                rect.bottom = self.size[1] - m
                on_qr_side = qr_rect is not None and self.config.qr_corner.startswith("bottom")
                if on_qr_side and self.config.qr_corner == "bottom-left":
                    rect.left = qr_rect.right + m
                if on_qr_side and rect.colliderect(qr_rect):  # a narrow (portrait) screen: text above the code
                    rect.left, rect.bottom = m, qr_rect.top - m
                placed.append((text, rect))
        return placed

    def _overlay(self, piece: PieceInfo, kind: str, qr_rect: pygame.Rect | None = None) -> pygame.Surface | None:
        # why the words are in the key: a title or reflection edited in the catalog redraws the panel at once
        key = (piece.id, kind) if kind == "qr" else (piece.id, kind, piece.title, piece.reflection, piece.credit)
        if key not in self._overlays:
            self._overlays[key] = self._make_qr(piece) if kind == "qr" else self._make_text(piece, kind, qr_rect)
        return self._overlays[key]

    def _make_qr(self, piece: PieceInfo) -> pygame.Surface:
        url = piece_url(piece.slug, self.config.base_url)
        symbol = len(qr_matrix(url, QR_ERROR, border=0))
        size = qr_size(symbol, self.physical_px, screen_inches=self.config.screen_inches,
                       scan_distance=self.config.scan_distance, room_px=self.size)
        if size != self._qr_logged:  # once per size, not once per piece
            log.log(logging.WARNING if size.capped else logging.INFO,
                    "QR codes: %d px modules, %d px with quiet zone, read from about %.1f m%s (e.g. %s)",
                    size.module_px, size.side_px, size.scan_distance,
                    f", smaller than asked for {self.config.scan_distance:.1f} m to keep the art visible"
                    if size.capped else "", url)
            self._qr_logged = size
        image = qr_image(url, size.side_px, QR_ERROR)
        return pygame.image.frombytes(image.tobytes(), image.size, "RGB").convert()

    def _make_text(self, piece: PieceInfo, kind: str, qr_rect: pygame.Rect | None) -> pygame.Surface | None:
        """The title and reflection on their panel, one surface (made once per piece and screen size)."""
        lay, m = self.layout, self.margin
        same_edge = qr_rect is not None and self.config.qr_corner.startswith("bottom")
        width, _ = text_width(lay, self.size[0], m, qr_rect.width if same_edge else None)
        inner = max(1, width - 2 * lay.pad_x)
        blocks: list[tuple[pygame.font.Font, list[str], int]] = []
        if "title" in kind and piece.title:
            font = self._font(lay.title_px, bold=True)
            blocks.append((font, balanced_wrap(piece.title, inner, lambda s: font.size(s)[0], TITLE_LINES),
                           lay.title_advance))
        if "title" in kind and piece.credit:  # a photograph: whose, right under its name
            credit_font = self._font(lay.body_px)
            blocks.append((credit_font, wrap(piece.credit, inner, lambda s: credit_font.size(s)[0], 1),
                           lay.body_advance))
        if "reflection" in kind and piece.reflection:
            font = self._font(lay.body_px)
            blocks.append((font, wrap(piece.reflection, inner, lambda s: font.size(s)[0], BODY_LINES),
                           lay.body_advance))
        blocks = [b for b in blocks if b[1]]
        if not blocks:
            return None
        return _panel(blocks, lay)

    def save(self, path: str) -> None:
        pygame.image.save(self.screen, path)


def _panel(blocks: list[tuple[pygame.font.Font, list[str], int]], lay: TextLayout) -> pygame.Surface:
    """Lines of text on a rounded translucent panel, as one surface blitted per frame.

    Text and panel are combined with the "over" formula through a lookup table on the text's coverage: pygame's
    own blit of antialiased text onto a translucent surface darkens the edges and thins the strokes.
    """
    rendered: list[tuple[pygame.Surface, int]] = []  # (line, top)
    y = lay.pad_y
    for i, (font, lines, advance) in enumerate(blocks):
        if i:
            y += lay.gap
        half_leading = (advance - font.get_height()) // 2
        for line in lines:
            rendered.append((font.render(line, True, TEXT_COLOUR), y + half_leading))
            y += advance
    w = max(r.get_width() for r, _ in rendered) + 2 * lay.pad_x
    h = y + lay.pad_y
    ink = pygame.Surface((w, h), pygame.SRCALPHA)  # the text's coverage, 0-255, in the alpha channel
    ink.fill((0, 0, 0, 0))
    for r, top in rendered:
        ink.blit(r, (lay.pad_x, top), special_flags=pygame.BLEND_RGBA_MAX)
    coverage = np.ascontiguousarray(pygame.surfarray.pixels_alpha(ink).T)  # (h, w); the copy releases the lock
    rgba = _over_table().view(np.uint32)[:, 0][coverage].view(np.uint8).reshape(h, w, 4)  # one 4-byte lookup a pixel
    _round_corners(rgba[..., 3], lay.radius)
    return pygame.image.frombytes(rgba.tobytes(), (w, h), "RGBA").convert_alpha()


@functools.cache
def _over_table() -> np.ndarray:
    """(256, 4) RGBA of the text colour over the panel colour, by the text's coverage 0-255 (straight alpha)."""
    c = np.arange(256, dtype=np.float64) / 255.0
    panel = PANEL_COLOUR[3] / 255.0
    alpha = c + panel * (1.0 - c)
    share = c / alpha  # of the text colour in the (not premultiplied) colour
    colour, back = np.asarray(TEXT_COLOUR, np.float64), np.asarray(PANEL_COLOUR[:3], np.float64)
    rgb = back + (colour - back) * share[:, None]
    return np.round(np.column_stack([rgb, alpha * 255.0])).astype(np.uint8)


def _round_corners(alpha: np.ndarray, radius: int) -> None:
    """Antialiased rounded corners of `radius` px cut into an (h, w) alpha array, in place."""
    r = max(0, min(radius, alpha.shape[0] // 2, alpha.shape[1] // 2))
    if not r:
        return
    d = np.arange(r, dtype=np.float64) + 0.5  # pixel centres, from the outer edge inwards
    keep = np.clip(r - np.hypot((r - d)[:, None], (r - d)[None, :]) + 0.5, 0.0, 1.0)  # top-left corner's coverage
    for ys, xs in ((slice(None, r), slice(None, r)), (slice(None, r), slice(-r, None)),
                   (slice(-r, None), slice(None, r)), (slice(-r, None), slice(-r, None))):
        k = keep[:: 1 if ys.start is None else -1, :: 1 if xs.start is None else -1]
        alpha[ys, xs] = np.round(alpha[ys, xs] * k).astype(np.uint8)


def _letterbox(surface: pygame.Surface, size: tuple[int, int], background: tuple[int, int, int]) -> pygame.Surface:
    """`surface` scaled to fit inside `size`, centred on `background` (a stopgap until the fresh decode)."""
    w, h = surface.get_size()
    scale = min(size[0] / w, size[1] / h)
    scaled = pygame.transform.smoothscale(surface, (max(1, round(w * scale)), max(1, round(h * scale))))
    out = pygame.Surface(size).convert()
    out.fill(background)
    out.blit(scaled, scaled.get_rect(center=(size[0] // 2, size[1] // 2)))
    return out
