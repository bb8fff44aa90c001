"""A real X window under Xvfb: what a visitor sees, captured from the X server itself (xwd) and by pygame.

Skips cleanly where Xvfb is absent (the CI script installs it). Each test starts its own Xvfb on a free display
number (`-displayfd`), runs `dstrtd gallery` on it in a subprocess, and compares pixel colours with the piece.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.xvfb,
              pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)")]

ORANGE, TEAL = (240, 120, 20), (20, 160, 170)


@pytest.fixture()
def xvfb(request):
    """Start Xvfb on a free display; the screen is 800x600 unless the test parametrizes `xvfb` indirectly."""
    size = getattr(request, "param", "800x600")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    deadline = time.monotonic() + 15
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(read, 16)
        if not chunk:
            break
        number += chunk
    os.close(read)
    if not number.strip():
        proc.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number.decode().strip()}"
    proc.terminate()
    proc.wait(10)


def piece_png(colour, size=(480, 270)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def gallery(display: str, studio, *args: str) -> subprocess.Popen:
    env = {**os.environ, "DISPLAY": display, "SDL_VIDEODRIVER": "x11", "SDL_AUDIODRIVER": "dummy",
           "SDL_VIDEO_WINDOW_POS": "0,0"}
    return subprocess.Popen([sys.executable, "-m", "installation", "gallery", "--studio", str(studio.root), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_xwd(data: bytes) -> np.ndarray:
    """An (H, W, 3) uint8 array from an XWD dump of a TrueColor screen (what `xwd -root` writes)."""
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height, byte_order = fields[0], fields[4], fields[5], fields[7]
    bits_per_pixel, bytes_per_line, masks, ncolors = fields[11], fields[12], fields[14:17], fields[19]
    bpp = bits_per_pixel // 8
    start = header_size + 12 * ncolors
    rows = np.frombuffer(data[start:start + bytes_per_line * height], np.uint8).reshape(height, bytes_per_line)
    px = rows[:, : width * bpp].reshape(height, width, bpp).astype(np.uint32)
    order = range(bpp) if byte_order == 0 else range(bpp - 1, -1, -1)  # 0: least significant byte first
    value = sum(px[..., i] << (8 * k) for k, i in enumerate(order))
    channels = [(value & m) >> ((m & -m).bit_length() - 1) for m in masks]
    return np.dstack(channels).astype(np.uint8)


def grab(display: str) -> np.ndarray | None:
    out = subprocess.run(["xwd", "-root", "-silent", "-display", display], capture_output=True, timeout=20)
    return read_xwd(out.stdout) if out.returncode == 0 and out.stdout else None


def near(pixel, colour, tol=8) -> bool:
    return all(abs(int(a) - b) <= tol for a, b in zip(pixel, colour, strict=True))


def test_window_shows_the_piece_on_a_real_x_server(xvfb, studio, tmp_path):
    with studio.catalog() as cat:
        piece = cat.add_piece({"image.png": piece_png(ORANGE)}, prompt="x", theme="glacier", status="accepted",
                              title="Glacier, distorted")
    shot = tmp_path / "pygame.png"
    proc = gallery(xvfb, studio, "--windowed", "640x360", "--seconds", "5", "--hold", "100", "--crossfade", "0.5",
                   "--screenshot", str(shot), "--base-url", "https://dstrtd.example")
    try:
        screen = None
        if shutil.which("xwd"):
            deadline = time.monotonic() + 4.5
            while time.monotonic() < deadline:  # until the piece is up, as a visitor would see it
                screen = grab(xvfb)
                if screen is not None and near(screen[90, 320], ORANGE):
                    break
                screen = None
                time.sleep(0.3)
        output = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "drawing 640x360 px" in output and "desktop 800x600" in output

    # pygame's own copy of the window: the piece in the upper middle, the QR code at the bottom right
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (360, 640, 3)
    assert near(img[90, 320], ORANGE) and near(img[40, 200], ORANGE)
    qr_corner = img[300:350, 560:630]
    assert (qr_corner > 240).all(axis=2).any() and (qr_corner < 15).all(axis=2).any(), "QR code: white and black"
    zxingcpp = pytest.importorskip("zxingcpp")
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(shot))] == [
        f"https://dstrtd.example/p/{piece.slug}"]

    # the X server's picture of the whole screen: the window at (0, 0), the rest of the screen black
    if shutil.which("xwd"):
        assert screen is not None, "the piece never appeared on the X screen"
        assert screen.shape == (600, 800, 3)
        assert near(screen[90, 320], ORANGE) and near(screen[40, 200], ORANGE)
        assert near(screen[500, 700], (0, 0, 0)), "outside the window"
        Image.fromarray(screen).save(tmp_path / "xwd.png")


@pytest.mark.parametrize("xvfb", ["600x800"], indirect=True)
def test_fullscreen_reads_the_real_portrait_screen_size(xvfb, studio, tmp_path):
    with studio.catalog() as cat:
        cat.add_piece({"image.png": piece_png(TEAL, (400, 300))}, prompt="x", status="accepted")
    shot = tmp_path / "portrait.png"
    proc = gallery(xvfb, studio, "--seconds", "2.5", "--crossfade", "0.3", "--no-qr", "--no-title",
                   "--no-reflection", "--screenshot", str(shot))
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert "drawing 600x800 px fullscreen" in output
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (800, 600, 3), "fullscreen takes the monitor's size, portrait included"
    assert near(img[400, 300], TEAL)
    assert near(img[100, 300], (0, 0, 0)) and near(img[700, 300], (0, 0, 0)), "a 4:3 piece letterboxed on 3:4"


def test_xwd_reader_on_a_known_picture():
    """The XWD reader itself, on a 2x2 dump built by hand (24-bit pixels, LSB first, rows padded to 4 bytes)."""
    header = struct.pack(">25I", 100, 7, 2, 24, 2, 2, 0, 0, 32, 0, 32, 24, 8, 5, 0xFF0000, 0xFF00, 0xFF, 8, 0, 0,
                         2, 2, 0, 0, 0)
    rows = bytes([0, 0, 255, 0, 255, 0, 0, 0]) + bytes([255, 0, 0, 255, 255, 255, 0, 0])
    img = read_xwd(header + rows)
    assert img.tolist() == [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]]
