"""A real browser (headless Chromium) loads a piece's page from uvicorn; the screenshots must show the artwork where
a visitor expects it: edge to edge at the top of a phone, in the centred column on a desktop, with text below."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings, create_app

from .proxy import PREFIX, SUB_BASE, Proxy
from .support import BASE, MAGENTA, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's `chromium` on PATH")]

PHONE = (390, 844)  # the CSS viewport of a common phone
DESKTOP = (1280, 900)


def screenshot(url: str, size: tuple[int, int], out: Path) -> Image.Image:
    cmd = [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={out.parent / 'profile'}", f"--window-size={size[0]},{size[1]}",
           "--virtual-time-budget=5000",  # why: without it the shot may be taken before text and image are drawn
           f"--screenshot={out}", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0 and out.is_file(), f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    with Image.open(out) as im:
        return im.convert("RGB")


def colour_box(shot: Image.Image, colour: tuple[int, int, int], tol: int = 24) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of the pixels within `tol` of `colour` in every channel."""
    near = [band.point(lambda v, c=c: 255 if abs(v - c) <= tol else 0) for band, c in
            zip(shot.split(), colour, strict=True)]
    return ImageChops.darker(ImageChops.darker(near[0], near[1]), near[2]).getbbox()


def bright_rows(shot: Image.Image, top: int, bottom: int) -> int:
    """How many pixel rows between `top` and `bottom` hold light pixels (text on the dark page)."""
    grey = shot.convert("L").crop((0, top, shot.width, bottom)).point(lambda v: 255 if v > 170 else 0)
    return sum(1 for y in range(grey.height) if grey.crop((0, y, grey.width, y + 1)).getbbox())


@pytest.fixture()
def site(studio: Studio, pieces: dict[str, Piece]):
    with serve(create_app(WebSettings(studio=studio.root, base_url=BASE))) as url:
        yield url


def test_piece_page_on_a_phone(site: str, pieces: dict[str, Piece], tmp_path: Path) -> None:
    shot = screenshot(f"{site}/p/{pieces['reef'].slug}", PHONE, tmp_path / "phone.png")
    assert shot.size == PHONE
    colours = shot.getcolors(1 << 16)  # None: more than 65536 colours
    assert colours is None or len(colours) > 20, "the page looks blank"
    box = colour_box(shot, MAGENTA)
    assert box is not None, "the artwork is not on the first screen"
    left, top, right, bottom = box
    assert right - left >= PHONE[0] - 2, f"the artwork should fill the phone's width, got {box}"
    assert top < 120, f"the artwork should open the page, got {box}"
    assert abs((bottom - top) - (right - left)) <= 3, f"the square artwork is distorted: {box}"
    assert bright_rows(shot, bottom + 1, PHONE[1]) > 40, "no title or text under the artwork"


def test_piece_page_on_a_desktop(site: str, pieces: dict[str, Piece], tmp_path: Path) -> None:
    shot = screenshot(f"{site}/p/{pieces['reef'].slug}", (DESKTOP[0], 1400), tmp_path / "desktop.png")
    box = colour_box(shot, MAGENTA)
    assert box is not None
    left, top, right, bottom = box
    assert 600 <= right - left <= 800, f"the artwork should sit in a readable column, got {box}"
    assert abs((left + right) / 2 - DESKTOP[0] / 2) <= 4, f"the column should be centred, got {box}"
    assert bright_rows(shot, bottom + 1, shot.height) > 60, "no text under the artwork"


def test_index_shows_thumbnails(site: str, tmp_path: Path) -> None:
    shot = screenshot(f"{site}/", (DESKTOP[0], 1200), tmp_path / "index.png")
    for colour in (MAGENTA, (40, 90, 220)):  # two published pieces' thumbnails
        box = colour_box(shot, colour)
        assert box is not None and 100 <= box[2] - box[0] <= 400, f"thumbnail of {colour} missing or odd: {box}"
    assert colour_box(shot, (200, 30, 30)) is None, "an unpublished piece shows on the index"


@pytest.fixture()
def proxy(studio: Studio, pieces: dict[str, Piece]):
    """The site behind a proxy at /dstrtd that strips the prefix (nginx `proxy_pass http://127.0.0.1:8000/;`)."""
    behind = Proxy(create_app(WebSettings(studio=studio.root, base_url=SUB_BASE)), "strip")
    with serve(behind) as url:
        yield url + PREFIX, behind


def requested(behind: Proxy) -> list[tuple[str, int]]:
    """What the browser asked the proxy for, less /favicon.ico, which it asks of the host's root on its own."""
    return [(path, status) for path, status in behind.seen if path != "/favicon.ico"]


def test_piece_page_under_a_sub_path(proxy: tuple[str, Proxy], pieces: dict[str, Piece], tmp_path: Path) -> None:
    site, behind = proxy
    slug = pieces["reef"].slug
    shot = screenshot(f"{site}/p/{slug}", (DESKTOP[0], 1400), tmp_path / "subpath-desktop.png")
    box = colour_box(shot, MAGENTA)
    assert box is not None, "the artwork did not load under the sub-path"
    left, top, right, bottom = box
    # The column's width and centring come from the stylesheet: without it the image sits at the left at 512 px.
    assert 600 <= right - left <= 800 and abs((left + right) / 2 - DESKTOP[0] / 2) <= 4, f"unstyled page: {box}"
    assert shot.getpixel((20, shot.height - 20)) == (17, 17, 17), "the page background is not the stylesheet's"
    assert bright_rows(shot, bottom + 1, shot.height) > 60, "no text under the artwork"
    seen = requested(behind)
    ok = {path.split("?")[0] for path, status in seen if status == 200}
    assert {f"{PREFIX}/p/{slug}", f"{PREFIX}/static/style.css", f"{PREFIX}/p/{slug}/image.png"} <= ok, seen
    assert all(path.startswith(PREFIX + "/") and status == 200 for path, status in seen), seen


def test_index_under_a_sub_path_shows_thumbnails(proxy: tuple[str, Proxy], tmp_path: Path) -> None:
    site, behind = proxy
    shot = screenshot(f"{site}/", (DESKTOP[0], 1200), tmp_path / "subpath-index.png")
    for colour in (MAGENTA, (40, 90, 220)):
        box = colour_box(shot, colour)
        assert box is not None and 100 <= box[2] - box[0] <= 400, f"thumbnail of {colour} missing or odd: {box}"
    seen = requested(behind)
    assert sum(path.endswith("/thumb.jpg") for path, _ in seen) == 4, seen
    assert all(path.startswith(PREFIX + "/") and status == 200 for path, status in seen), seen
