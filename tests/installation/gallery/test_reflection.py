"""The gallery reads a piece's own reflection (else its theme's) and redraws its panel when the artist edits it."""

from __future__ import annotations

import io
import time

from PIL import Image

from installation.gallery.app import GalleryApp
from installation.gallery.config import GalleryConfig
from installation.gallery.source import read_pieces

THEIRS = "This is what a coral reef looks like for a computer. Is your perception distorted?"


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "PNG")
    return buf.getvalue()


def _add(studio, colour, theme="coral-reef", status="accepted"):
    with studio.catalog() as cat:
        return cat.add_piece({"image.png": _png(colour)}, prompt="a coral reef:1", theme=theme, status=status)


def test_read_pieces_gives_the_pieces_own_reflection_else_the_themes(studio) -> None:
    mine, theirs, bare = _add(studio, (200, 20, 20)), _add(studio, (20, 200, 20)), _add(studio, (9, 9, 9), None)
    with studio.catalog() as cat:
        cat.set_reflection(mine.id, "Bleached at noon.\n\nThe fish have left.")
        shown = {p.id: p.reflection for p in read_pieces(cat)}
    assert shown == {mine.id: "Bleached at noon.\n\nThe fish have left.", theirs.id: THEIRS, bare.id: ""}


def test_an_edited_reflection_reaches_the_screen_without_a_restart(studio) -> None:
    piece = _add(studio, (30, 40, 220))
    with studio.catalog() as cat:
        cat.set_reflection(piece.id, "First words.")
    app = GalleryApp(studio.root, GalleryConfig(windowed=(480, 270), poll=0.05, seed=0, hold=30.0, crossfade=0.1))
    drawn: list[str] = []
    app.start()
    try:
        make_text = app.renderer._make_text

        def recording(p, kind, qr_rect):
            drawn.append(p.reflection)
            return make_text(p, kind, qr_rect)

        app.renderer._make_text = recording  # type: ignore[method-assign]

        def run_until(done) -> None:
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and not done():
                app.step(0.05)
                time.sleep(0.01)
            assert done(), drawn

        run_until(lambda: "First words." in drawn)
        with studio.catalog() as cat:
            cat.set_reflection(piece.id, "Second thoughts.")
        run_until(lambda: "Second thoughts." in drawn)
        with studio.catalog() as cat:
            cat.set_reflection(piece.id, "")
        run_until(lambda: drawn[-1] == THEIRS)
    finally:
        app.close()


def test_control_characters_that_slipped_into_the_catalog_never_reach_the_font(studio) -> None:
    piece = _add(studio, (30, 60, 200))
    with studio.catalog() as cat:  # as an old version or an edit by hand could have left them
        with cat.transaction() as db:
            db.execute("UPDATE pieces SET title=?, reflection=? WHERE id=?",
                       ("Reef\x00night", "Line one\x07\nline two", piece.id))
        shown = {p.id: (p.title, p.reflection) for p in read_pieces(cat)}
    assert shown[piece.id] == ("Reefnight", "Line one\nline two")
    app = GalleryApp(studio.root, GalleryConfig(windowed=(320, 180), frames=3, hold=0.05, crossfade=0.02))
    assert app.run() == 0 and app._loop_errors == 0  # pygame refuses a NUL: no frame may fail on one


def test_every_text_the_display_reads_is_cut_to_a_stated_length(studio) -> None:
    from curation.catalog import Theme
    from installation.gallery.source import REFLECTION_CHARS, TITLE_CHARS

    with studio.catalog() as cat:
        cat.upsert_theme(Theme("endless", ("a reef:1",), reflection="word " * 2000, title="T" * 5000))
    own, themed = _add(studio, (200, 20, 20)), _add(studio, (20, 200, 20), theme="endless")
    with studio.catalog() as cat:
        cat.set_title(own.id, "Bleached at noon")
        with cat.transaction() as db:  # as an old version or an edit by hand could have left them
            db.execute("UPDATE pieces SET reflection=? WHERE id=?", ("x" * 50_000, own.id))
        shown = {p.id: p for p in read_pieces(cat)}
    assert shown[own.id].title == "Bleached at noon", "short texts stay as they are"
    assert shown[own.id].reflection == "x" * (REFLECTION_CHARS - 1) + "…"
    assert shown[themed.id].title == "T" * (TITLE_CHARS - 1) + "…", "a theme's title has no limit of its own"
    reflection = shown[themed.id].reflection
    assert len(reflection) <= REFLECTION_CHARS and reflection.endswith("word…")


def test_a_photograph_is_credited_under_its_title_on_screen(studio, monkeypatch) -> None:
    import pygame

    import installation.gallery.render as render_module
    from curation.photos import photo_settings
    from installation.gallery.order import PieceInfo

    with studio.catalog() as cat:
        photo = cat.add_piece({"image.png": _png((30, 90, 40))}, prompt="Path", title="Path", status="accepted",
                              settings={"imported_from": "/x/Path.jpg", **photo_settings("Risto Saukonpää", "LGPLv3")})
        made = _add(studio, (200, 20, 20))
        shown = {p.id: p.credit for p in read_pieces(cat)}
    assert shown == {photo.id: "Photograph by Risto Saukonpää (LGPLv3)", made.id: ""}

    pygame.display.init()
    size = (960, 540)
    renderer = render_module.Renderer(pygame.display.set_mode(size), GalleryConfig(windowed=size), physical_px=size)
    lines: list[str] = []
    real_panel = render_module._panel

    def recording(blocks, lay):  # the lines the panel is drawn with, in order
        lines.extend(line for _, block, _ in blocks for line in block)
        return real_panel(blocks, lay)

    monkeypatch.setattr(render_module, "_panel", recording)
    credited = PieceInfo(photo.id, photo.slug, "/x.png", "s", title="Path", credit=shown[photo.id])
    tall = renderer._make_text(credited, "title+reflection", None)
    plain = renderer._make_text(PieceInfo(made.id, made.slug, "/y.png", "t", title="Path"), "title", None)
    assert lines == ["Path", "Photograph by Risto Saukonpää (LGPLv3)", "Path"]
    assert tall.get_height() > plain.get_height()
