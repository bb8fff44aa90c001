"""Images come from the studio only: the files the catalog names inside `pieces/`, never a path from a URL."""

from __future__ import annotations

import io
import os
import sqlite3

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from curation.catalog import Piece
from curation.studio import Studio
from installation.web import WebSettings
from installation.web.review_session import COOKIE

from .support import MAGENTA, TOKEN, loss_png, make_client


def test_image_is_the_pieces_file(client: TestClient, studio: Studio, pieces: dict[str, Piece]) -> None:
    reef = pieces["reef"]
    r = client.get(f"/p/{reef.slug}/image.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (studio.root / reef.file).read_bytes()
    assert r.headers["etag"] == f'"{reef.sha256}"' and "max-age" in r.headers["cache-control"]
    assert client.head(f"/p/{reef.slug}/image.png").status_code == 200


def test_loss_curve_only_where_there_is_one(client: TestClient, pieces: dict[str, Piece]) -> None:
    r = client.get(f"/p/{pieces['reef'].slug}/loss.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == loss_png()
    assert client.get(f"/p/{pieces['reef2'].slug}/loss.png").status_code == 404


def test_thumbnail_is_a_small_jpeg_of_the_image(client: TestClient, pieces: dict[str, Piece]) -> None:
    r = client.get(f"/p/{pieces['reef'].slug}/thumb.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.format == "JPEG" and max(im.size) <= 480
        assert all(abs(a - b) <= 12 for a, b in zip(im.convert("RGB").getpixel((10, 10)), MAGENTA, strict=True))


def _point_file_at(studio: Studio, piece: Piece, file: str) -> None:
    """What a corrupted or tampered catalog could hold."""
    with sqlite3.connect(studio.catalog_path) as db:
        db.execute("UPDATE pieces SET file = ? WHERE id = ?", (file, piece.id))


@pytest.mark.parametrize("file", ["catalog.sqlite", "themes.toml", "../../../../../../etc/passwd", "/etc/passwd",
                                  "pieces/../catalog.sqlite", "pieces", "pieces/nothing/image.png"])
def test_a_tampered_catalog_cannot_serve_other_files(client: TestClient, studio: Studio, pieces: dict[str, Piece],
                                                     file: str) -> None:
    reef = pieces["reef"]
    _point_file_at(studio, reef, file)
    for path in (f"/p/{reef.slug}/image.png", f"/p/{reef.slug}/thumb.jpg"):
        r = client.get(path)
        assert r.status_code == 404, (file, path)
        assert b"SQLite format" not in r.content and b"root:" not in r.content
    assert client.get(f"/p/{reef.slug}").status_code == 200  # the page itself still answers


def test_a_symlink_out_of_the_studio_is_not_followed(client: TestClient, studio: Studio, pieces: dict[str, Piece],
                                                     tmp_path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n secret outside the studio")
    for name in ("image.png", "loss.png"):
        link = studio.root / pieces["reef"].folder / name
        link.unlink()
        os.symlink(secret, link)
        r = client.get(f"/p/{pieces['reef'].slug}/{name}")
        assert r.status_code == 404 and b"secret" not in r.content, name


def test_an_unreadable_image_gives_no_thumbnail_and_no_500(client: TestClient, studio: Studio,
                                                           pieces: dict[str, Piece]) -> None:
    (studio.root / pieces["glacier"].file).write_bytes(b"not a png at all")
    assert client.get(f"/p/{pieces['glacier'].slug}/thumb.jpg").status_code == 404


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_thumbnails_are_capped_in_pixels_before_decoding(studio: Studio, pieces: dict[str, Piece],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """A published 13000x13000 piece cost 1.4 GB a thumbnail request: the web refuses it from the file's header, as
    the gallery does, and the cap is a setting."""
    huge = io.BytesIO()
    Image.new("1", (13000, 13000), 1).save(huge, "PNG")  # 46 kB on disk, 169 Mpx
    (studio.root / pieces["glacier"].file).write_bytes(huge.getvalue())
    with make_client(studio.root) as c, caplog.at_level("WARNING", "installation.web.routers.media"):
        assert c.app.state.settings.max_pixels == WebSettings.max_pixels == 40_000_000
        assert c.get(f"/p/{pieces['glacier'].slug}/thumb.jpg").status_code == 404
        assert c.get(f"/p/{pieces['reef'].slug}/thumb.jpg").status_code == 200
    assert any("169.0 Mpx, over the limit of 40.0 Mpx" in m for m in caplog.messages)
    # the cap is the setting's: a 512x512 piece is over a cap of 0.2 Mpx, on the public and the review thumbnails
    with make_client(studio.root, max_pixels=200_000) as c:
        assert c.get(f"/p/{pieces['reef'].slug}/thumb.jpg").status_code == 404
        assert c.get(f"/p/{pieces['reef2'].slug}/thumb.jpg").status_code == 200  # 64x64
        c.post("/review/login", data={"token": TOKEN}, follow_redirects=False)
        session = {"cookie": f"{COOKIE}={c.cookies[COOKIE]}"}  # why by hand: the cookie is Secure, the client http
        assert c.get(f"/review/p/{pieces['reef'].slug}/thumb.jpg", headers=session).status_code == 404
        assert c.get(f"/review/p/{pieces['draft'].slug}/thumb.jpg", headers=session).status_code == 200
