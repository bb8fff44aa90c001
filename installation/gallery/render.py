"""Turning a `Frame` into pixels with pygame. Every piece is scaled once (on the preload thread) to a canvas the size
of the screen (times the pan/zoom margin); a crossfade is two blits, the second with surface alpha; overlays are
rendered once per piece and blitted with the same alpha. Only the pan/zoom scales per frame (smoothscale of a
window of the canvas into a reusable scratch surface).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pygame

from curation.studio import piece_url
from installation.gallery.config import GalleryConfig
from installation.gallery.images import RAW_MODE, Prepared
from installation.gallery.order import PieceInfo
from installation.gallery.overlay import QR_ERROR, QrSize, qr_size, wrap
from installation.gallery.slideshow import Frame, View
from installation.qr import qr_image, qr_matrix

log = logging.getLogger(__name__)

TEXT_COLOUR = (245, 245, 240)
PANEL_COLOUR = (0, 0, 0, 150)  # why: white text stays legible over any piece, and the piece still shows through


@dataclass
class _Canvas:
    sha256: str
    surface: pygame.Surface
    stale: bool = False  # rescaled from another screen size; a fresh decode is on its way


class Renderer:
    """Draws frames onto `screen`; holds the decoded canvases and overlay surfaces of the pieces it is told to keep."""

    def __init__(self, screen: pygame.Surface, config: GalleryConfig, *, physical_px: tuple[int, int] | None = None):
        self.config = config
        self._canvases: dict[int, _Canvas] = {}
        self._overlays: dict[tuple[int, str], pygame.Surface] = {}
        self._fonts: dict[int, pygame.font.Font] = {}
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

    def _font(self, px: int) -> pygame.font.Font:
        if px not in self._fonts:
            try:
                self._fonts[px] = pygame.font.Font(self.config.font, px)
            except (OSError, pygame.error) as exc:
                log.warning("font %s unusable (%s); using pygame's own", self.config.font, exc)
                self._fonts[px] = pygame.font.Font(None, px)
        return self._fonts[px]

    @property
    def margin(self) -> int:
        return max(4, round(0.035 * min(self.size)))

    def _draw_overlays(self, piece: PieceInfo, which: frozenset[str], alpha: int) -> None:
        if alpha <= 0:
            return
        qr = self._overlay(piece, "qr") if "qr" in which else None
        qr_rect = None
        if qr is not None:
            qr_rect = qr.get_rect()
            corner = self.config.qr_corner
            m = self.margin
            qr_rect.bottom = self.size[1] - m if corner.startswith("bottom") else m + qr_rect.height
            qr_rect.right = self.size[0] - m if corner.endswith("right") else m + qr_rect.width
            qr.set_alpha(None if alpha >= 255 else alpha)
            self.screen.blit(qr, qr_rect)
        text_kind = "+".join(k for k in ("title", "reflection") if k in which)
        text_kind += "@qr" if qr_rect is not None else ""  # the text is narrower beside a code
        if text_kind.split("@")[0]:
            text = self._overlay(piece, text_kind, qr_rect)
            if text is not None:
                rect = text.get_rect()
                m = self.margin
                rect.left = m
                rect.bottom = self.size[1] - m
                on_qr_side = qr_rect is not None and self.config.qr_corner.startswith("bottom")
                if on_qr_side and self.config.qr_corner == "bottom-left":
                    rect.left = qr_rect.right + m
                if on_qr_side and rect.colliderect(qr_rect):  # a narrow (portrait) screen: text above the code
                    rect.left, rect.bottom = m, qr_rect.top - m
                text.set_alpha(alpha)  # never None: that would switch off the panel's per-pixel alpha
                self.screen.blit(text, rect)

    def _overlay(self, piece: PieceInfo, kind: str, qr_rect: pygame.Rect | None = None) -> pygame.Surface | None:
        key = (piece.id, kind)
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
        short = min(self.size)
        m = self.margin
        width = self.size[0] - 2 * m
        if qr_rect is not None and self.config.qr_corner.startswith("bottom"):
            beside = width - qr_rect.width - m
            width = beside if beside >= 0.45 * self.size[0] else width  # else it goes above the code
        pad = max(2, round(0.012 * short))
        lines: list[tuple[pygame.font.Font, str]] = []
        if "title" in kind and piece.title:
            font = self._font(max(8, round(0.045 * short)))
            lines += [(font, line) for line in wrap(piece.title, width - 2 * pad, lambda s: font.size(s)[0], 1)]
        if "reflection" in kind and piece.reflection:
            font = self._font(max(8, round(0.027 * short)))
            lines += [(font, line) for line in wrap(piece.reflection, width - 2 * pad, lambda s: font.size(s)[0], 2)]
        if not lines:
            return None
        rendered = [font.render(text, True, TEXT_COLOUR) for font, text in lines]
        gap = max(1, round(0.006 * short))
        w = max(r.get_width() for r in rendered) + 2 * pad
        h = sum(r.get_height() for r in rendered) + gap * (len(rendered) - 1) + 2 * pad
        panel = pygame.Surface((w, h), pygame.SRCALPHA)
        pygame.draw.rect(panel, PANEL_COLOUR, panel.get_rect(), border_radius=pad)
        y = pad
        for r in rendered:
            panel.blit(r, (pad, y))
            y += r.get_height() + gap
        return panel.convert_alpha()

    def save(self, path: str) -> None:
        pygame.image.save(self.screen, path)


def _letterbox(surface: pygame.Surface, size: tuple[int, int], background: tuple[int, int, int]) -> pygame.Surface:
    """`surface` scaled to fit inside `size`, centred on `background` (a stopgap until the fresh decode)."""
    w, h = surface.get_size()
    scale = min(size[0] / w, size[1] / h)
    scaled = pygame.transform.smoothscale(surface, (max(1, round(w * scale)), max(1, round(h * scale))))
    out = pygame.Surface(size).convert()
    out.fill(background)
    out.blit(scaled, scaled.get_rect(center=(size[0] // 2, size[1] // 2)))
    return out
