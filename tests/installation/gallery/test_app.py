"""The pygame loop, headless (SDL_VIDEODRIVER=dummy), over a real studio with good and broken files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from curation.public import piece_url
from installation.gallery.app import GalleryApp
from installation.gallery.config import GalleryConfig
from installation.gallery.images import prepare

RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 200, 40), (30, 40, 220), (230, 220, 20)


def png(colour, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def add(studio, colour=None, *, data: bytes | None = None, name: str = "image.png", status="accepted",
        title="", theme="coral-reef"):
    with studio.catalog() as cat:
        return cat.add_piece({name: data if data is not None else png(colour)}, prompt="a coral reef", theme=theme,
                             title=title, status=status, image_name=name)


@pytest.fixture()
def make_app(studio):
    apps: list[GalleryApp] = []

    def make(**overrides) -> GalleryApp:
        config = {"windowed": (320, 180), "poll": 0.05, "seed": 0, "hold": 0.4, "crossfade": 0.2, **overrides}
        now = config.pop("now", datetime.now)
        decode = config.pop("decode", None)
        app = GalleryApp(studio.root, GalleryConfig(**config), now=now, decode=decode)
        app.start()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def run_until(app: GalleryApp, done, dt: float = 0.05, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = app.step(dt)
        if done(frame):
            return frame
        time.sleep(0.004)  # let the decode and catalog threads run
    raise AssertionError(f"condition not reached in {timeout} s; last frame {app.last_frame}")


def centre_colour(app: GalleryApp) -> tuple[int, int, int]:
    w, h = app.screen.get_size()
    return tuple(app.screen.get_at((w // 2, h // 3)))[:3]


def close_to(a, b, tol=6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def broken_pieces(studio) -> dict[str, int]:
    """A truncated PNG, a piece whose file was deleted afterwards, and a PNG over the pixel limit."""
    good = png(RED, (256, 256))
    ids = {"truncated": add(studio, data=good[: len(good) // 2]).id}
    missing = add(studio, (1, 2, 3))
    (studio.root / missing.file).unlink()
    ids["missing"] = missing.id
    ids["huge"] = add(studio, data=png((9, 9, 9), (2100, 2000))).id  # 4.2 Mpx > the 4 Mpx limit below
    return ids


def test_cycles_the_good_pieces_and_never_shows_a_broken_one(studio, make_app, caplog):
    caplog.set_level("INFO")
    good = {add(studio, RED).id: RED, add(studio, GREEN).id: GREEN}
    cmyk = io.BytesIO()
    Image.new("CMYK", (64, 48), (255, 0, 255, 0)).save(cmyk, "JPEG", quality=95)  # cyan+yellow ink: green
    good[add(studio, data=cmyk.getvalue(), name="image.jpg").id] = None
    grey16 = io.BytesIO()
    Image.fromarray(np.full((48, 64), 40000, np.uint16)).save(grey16, "PNG")
    good[add(studio, data=grey16.getvalue()).id] = (156, 156, 156)
    bad = broken_pieces(studio)
    rejected = add(studio, BLUE, status="rejected").id
    app = make_app(max_pixels=4_000_000, title=False, reflection=False, qr=False)
    seen: set[int] = set()

    def check(frame):
        assert frame.current not in set(bad.values()) | {rejected}
        assert frame.incoming not in set(bad.values()) | {rejected}
        if frame.current is not None and frame.incoming is None:
            seen.add(frame.current)
            expected = good[frame.current]
            if expected is not None:
                assert close_to(centre_colour(app), expected), (frame.current, centre_colour(app), expected)
            else:
                r, g, b = centre_colour(app)
                assert g > 120 and r < 120, "the CMYK piece is shown in RGB"
        return seen == set(good) and app.frames > 200

    run_until(app, check, timeout=20)
    assert caplog.text.count("skipped") == 3
    assert "file is missing" in caplog.text and "over the limit" in caplog.text
    assert "not a readable image" in caplog.text
    assert caplog.text.count("file is missing") == 1, "a broken piece is reported once, not every cycle"
    assert "is CMYK; shown converted to RGB" in caplog.text and "is I;16; shown converted" in caplog.text


def test_new_pieces_appear_and_rejected_ones_disappear_without_restart(studio, make_app):
    first, second = add(studio, RED), add(studio, GREEN)
    app = make_app(hold=100.0, qr=False, title=False, reflection=False)
    run_until(app, lambda f: f.current is not None and f.incoming is None)
    newcomer = add(studio, YELLOW)
    run_until(app, lambda f: f.wanted[-1] == newcomer.id)  # noticed, and queued to come next
    app.command("next", source="test")
    run_until(app, lambda f: f.current == newcomer.id and f.incoming is None)
    assert close_to(centre_colour(app), YELLOW)
    with studio.catalog() as cat:
        cat.decide(newcomer.id, "rejected", ["test"])
    gone = run_until(app, lambda f: f.current != newcomer.id and f.incoming != newcomer.id)
    assert newcomer.id not in app.slideshow.pieces and gone.current != newcomer.id
    run_until(app, lambda f: f.current in (first.id, second.id) and f.incoming is None)
    assert close_to(centre_colour(app), RED) or close_to(centre_colour(app), GREEN)


def test_control_channel_commands(studio, make_app):
    ids = [add(studio, c).id for c in (RED, GREEN, BLUE)]
    app = make_app(hold=100.0)
    run_until(app, lambda f: f.current == ids[0] and f.incoming is None)
    with studio.catalog() as cat:
        cat.post_command("display", "next")
    run_until(app, lambda f: f.current == ids[1] and f.incoming is None)
    with studio.catalog() as cat:
        cat.post_command("display", "previous")
        cat.post_command("display", "pause")
    frame = run_until(app, lambda f: f.current == ids[0] and f.paused and f.incoming is None)
    with studio.catalog() as cat:
        cat.post_command("display", "resume")
        cat.post_command("display", "reload")
        cat.post_command("display", "explode")
    run_until(app, lambda f: not f.paused)
    assert frame.paused


def test_keyboard(studio, make_app):
    ids = [add(studio, c).id for c in (RED, GREEN, BLUE)]
    app = make_app(hold=100.0)
    run_until(app, lambda f: f.current == ids[0] and f.incoming is None)

    def press(key):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))

    press(pygame.K_RIGHT)
    run_until(app, lambda f: f.current == ids[1] and f.incoming is None)
    press(pygame.K_LEFT)
    run_until(app, lambda f: f.current == ids[0] and f.incoming is None)
    press(pygame.K_SPACE)
    press(pygame.K_o)
    frame = run_until(app, lambda f: f.paused)
    assert frame.overlays == frozenset()
    press(pygame.K_f)  # fullscreen: the dummy driver's whole 1024x768 "monitor"
    run_until(app, lambda f: app.screen.get_size() == pygame.display.get_desktop_sizes()[0])
    assert app.renderer.size == app.screen.get_size()
    press(pygame.K_f)
    run_until(app, lambda f: app.screen.get_size() == (320, 180) and f.current == ids[0])
    assert close_to(centre_colour(app), RED), "the piece is back at the window's size"
    press(pygame.K_ESCAPE)
    app.step(0.05)
    assert app.quit


def test_resumes_where_it_was_after_a_restart(studio, make_app):
    ids = [add(studio, c).id for c in (RED, GREEN, BLUE, YELLOW)]
    app = make_app(hold=100.0)
    run_until(app, lambda f: f.current == ids[0] and f.incoming is None)
    app.command("next", source="test")
    run_until(app, lambda f: f.current == ids[1] and f.incoming is None)
    app.close()
    assert (studio.root / "gallery-state.json").is_file()
    again = make_app(hold=100.0)
    frame = run_until(again, lambda f: f.current is not None or f.incoming is not None)
    assert (frame.current or frame.incoming) == ids[1]
    again.command("next", source="test")
    run_until(again, lambda f: f.current == ids[2] and f.incoming is None)


def test_closed_hours_are_black_and_idle(studio, make_app):
    add(studio, RED)
    add(studio, GREEN)
    app = make_app(hours="10:00-18:00", now=lambda: datetime(2025, 6, 2, 22, 0))
    for _ in range(40):
        frame = app.step(0.05)
        time.sleep(0.004)
    assert frame.blank and not frame.moving
    assert centre_colour(app) == (0, 0, 0)
    draws = app.draws
    for _ in range(20):
        app.step(0.05)
    assert app.draws == draws, "a black screen is not redrawn every frame"


def test_decoding_happens_off_the_render_path(studio, make_app):
    for colour in (RED, GREEN, BLUE):
        add(studio, colour)
    slow = []

    def slow_decode(job):
        slow.append(job.piece_id)
        time.sleep(0.4)
        return prepare(job.path, job.size, fit_mode=job.fit, background=job.background, max_pixels=job.max_pixels)

    app = make_app(hold=0.1, crossfade=0.3, decode=slow_decode)
    run_until(app, lambda f: f.current is not None)
    worst = 0.0
    for _ in range(60):
        t0 = time.perf_counter()
        app.step(0.05)
        worst = max(worst, time.perf_counter() - t0)
        time.sleep(0.01)
    assert len(slow) >= 2 and worst < 0.2, f"a frame took {worst * 1000:.0f} ms while pieces decoded in 400 ms"


@pytest.mark.parametrize("size, fit_mode", [((180, 320), "letterbox"), ((320, 180), "fill")])
def test_portrait_and_fill(studio, make_app, size, fit_mode):
    add(studio, RED, data=png(RED, (160, 90)))
    add(studio, GREEN, data=png(GREEN, (160, 90)))
    app = make_app(windowed=size, fit=fit_mode, qr=False, title=False, reflection=False, ken_burns=True)
    run_until(app, lambda f: f.current is not None and f.incoming is None and app.frames > 10)
    assert app.screen.get_size() == size
    top = tuple(app.screen.get_at((size[0] // 2, 2)))[:3]
    if fit_mode == "letterbox":
        assert top == (0, 0, 0), "a landscape piece on a portrait screen gets bars above and below"
    else:
        assert close_to(top, RED) or close_to(top, GREEN), "fill covers the screen"


def test_qr_code_on_screen_scans_to_the_piece_page(studio, make_app, tmp_path):
    zxingcpp = pytest.importorskip("zxingcpp")
    piece = add(studio, BLUE, title="Reef, seen by a machine")
    shot = tmp_path / "shot.png"
    app = make_app(windowed=(640, 360), base_url="https://dstrtd.example", screenshot=str(shot), hold=100.0)
    run_until(app, lambda f: f.current == piece.id and f.incoming is None and app.frames > 5)
    app.close()
    results = zxingcpp.read_barcodes(Image.open(shot))
    assert [r.text for r in results] == [piece_url(piece.slug, "https://dstrtd.example")]


def test_cli_runs_the_gallery_without_torch(studio, tmp_path):
    add(studio, RED)
    shot = tmp_path / "cli.png"
    code = ("import sys; from installation.cli import main; "
            f"rc = main(['-q', 'gallery', '--studio', {str(studio.root)!r}, '--windowed', '320x180', "
            f"'--frames', '30', '--screenshot', {str(shot)!r}]); "
            "print('torch loaded' if 'torch' in sys.modules else 'no torch'); sys.exit(rc)")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "no torch" in out.stdout
    assert Image.open(shot).size == (320, 180)


def test_cli_reports_a_missing_studio(tmp_path, capsys):
    from installation.cli import main

    assert main(["gallery", "--studio", str(tmp_path / "nowhere"), "--frames", "1"]) == 2
    assert "no studio at" in capsys.readouterr().err


def test_display_number_is_checked(studio):
    add(studio, RED)
    app = GalleryApp(studio.root, GalleryConfig(windowed=(320, 180), display=7))
    from installation.gallery.config import GalleryError

    with pytest.raises(GalleryError, match="display 7 does not exist"):
        app.start()
    pygame.display.quit()


def test_state_file_path(studio):
    app = GalleryApp(studio.root, GalleryConfig())
    assert app.state_path == Path(studio.root) / "gallery-state.json"


def test_each_showing_decodes_its_piece_once(studio, make_app):
    for colour in (RED, GREEN, BLUE):
        add(studio, colour)
    decoded = []

    def counting_decode(job):
        decoded.append(job.piece_id)
        return prepare(job.path, job.size, fit_mode=job.fit, background=job.background, max_pixels=job.max_pixels)

    app = make_app(hold=0.3, crossfade=1.0, decode=counting_decode)
    shown: list[int] = []

    def count(frame):
        if frame.current is not None and (not shown or shown[-1] != frame.current):
            shown.append(frame.current)
        return len(shown) >= 6

    run_until(app, count, timeout=20)
    assert len(decoded) <= len(shown) + 2, f"{len(decoded)} decodes for {len(shown)} showings"


def test_sigterm_stops_cleanly_and_saves_the_position(studio):
    """A service manager stops the display with SIGTERM; SDL turns it into a quit event the loop takes."""
    import signal

    add(studio, RED)
    add(studio, GREEN)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    proc = subprocess.Popen([sys.executable, "-m", "installation", "gallery", "--studio", str(studio.root),
                             "--windowed", "320x180", "--seconds", "60", "--crossfade", "0.2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = studio.root / "gallery-state.json"
    deadline = time.monotonic() + 30
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert "gallery stopped" in output and state.exists()


@pytest.mark.parametrize("display", [None, ":4242"], ids=["unset", "pointing-nowhere"])
def test_no_display_is_a_loud_error_and_a_failing_exit(studio, display):
    """With the real video drivers and no screen to reach, SDL falls back to drawing into memory: the gallery must
    refuse to "run" there (only an explicit SDL_VIDEODRIVER=dummy draws headless)."""
    add(studio, RED)
    env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY")}
    if display is not None:
        env["DISPLAY"] = display
    out = subprocess.run([sys.executable, "-m", "installation", "gallery", "--studio", str(studio.root),
                          "--windowed", "320x180", "--frames", "5"],
                         capture_output=True, text=True, env={**env, "SDL_AUDIODRIVER": "dummy"}, timeout=60)
    assert out.returncode != 0, out.stderr
    assert "no display" in out.stderr and "SDL_VIDEODRIVER=dummy" in out.stderr
    assert (f"DISPLAY={display} cannot be opened" if display else "DISPLAY and WAYLAND_DISPLAY are unset") in out.stderr
    assert "Traceback" not in out.stderr


def test_nothing_public_is_said_on_screen_and_in_the_log_at_an_interval(studio, make_app, caplog):
    import logging
    from datetime import timedelta

    from installation.gallery.app import NOTHING_TO_SHOW_LOG_S

    draft = add(studio, GREEN, status="generated")  # made, not yet accepted: nothing public
    clock = [datetime(2024, 5, 1, 12, 0)]
    app = make_app(now=lambda: clock[0])
    warnings = lambda: [r for r in caplog.records if "nothing to show" in r.getMessage()]  # noqa: E731
    with caplog.at_level(logging.INFO, logger="installation.gallery.app"):
        run_until(app, lambda f: app.nothing_to_show and app.draws > 0)
        assert len(warnings()) == 1 and warnings()[0].levelno == logging.WARNING
        assert "catalog accept" in warnings()[0].getMessage()
        w, h = app.screen.get_size()
        middle = pygame.surfarray.array3d(app.screen)[w // 4: 3 * w // 4, h // 3: 2 * h // 3]
        assert (middle.min(axis=2) > 200).any(), "a notice on screen, not a black screen"
        clock[0] += timedelta(seconds=NOTHING_TO_SHOW_LOG_S / 2)
        for _ in range(5):
            app.step(0.05)
        assert len(warnings()) == 1, "not every frame"
        clock[0] += timedelta(seconds=NOTHING_TO_SHOW_LOG_S / 2)
        app.step(0.05)
        assert len(warnings()) == 2, "again after the interval, while it lasts"
        with studio.catalog() as cat:
            cat.set_status(draft.id, "accepted")
        run_until(app, lambda f: f.current == draft.id and f.incoming is None)
        assert close_to(centre_colour(app), GREEN)
        assert any("pieces to show again" in r.getMessage() for r in caplog.records)
