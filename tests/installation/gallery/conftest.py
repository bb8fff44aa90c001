"""Helpers shared by the gallery tests, handed out as fixtures (test modules cannot import each other here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from installation.gallery.config import GalleryConfig
from installation.gallery.order import PieceInfo
from installation.gallery.slideshow import Frame, Slideshow


def pieces(n: int, **overrides) -> list[PieceInfo]:
    return [PieceInfo(id=i, slug=f"p{i}", path=f"/x/{i}.png", sha256=f"sha{i}", **overrides) for i in range(1, n + 1)]


def ready_show(items: list[PieceInfo], **config) -> Slideshow:
    """A slideshow whose pieces are all decoded (what the loop reports once the preloader is done)."""
    show = Slideshow(GalleryConfig(**{"seed": 0, **config}))
    show.set_pieces(items)
    show.set_ready(p.id for p in items)
    return show


def drive(show: Slideshow, seconds: float, dt: float = 0.05, now=None) -> list[Frame]:
    frames = []
    for _ in range(round(seconds / dt)):
        frames.append(show.tick(dt, now))
    return frames


def shown(frames: list[Frame]) -> list[int]:
    """The sequence of pieces that became the one on screen."""
    out: list[int] = []
    for f in frames:
        if f.current is not None and (not out or out[-1] != f.current):
            out.append(f.current)
    return out


@pytest.fixture()
def sim() -> SimpleNamespace:
    """Pure slideshow helpers: pieces(n), ready_show(items, **config), drive(show, seconds), shown(frames)."""
    return SimpleNamespace(pieces=pieces, ready_show=ready_show, drive=drive, shown=shown)
