"""One piece, every public surface: the web page, the poster, the social post, the contact sheet and the gallery
show the one title `curation.public` decides, and the route prefix declared there is what every QR code encodes."""

from __future__ import annotations

import html
import io
import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from curation import public
from curation.catalog import Catalog, Piece, Theme
from curation.studio import Studio
from installation.export import contact_sheet
from installation.export.config import PosterConfig, SocialConfig
from installation.export.posters import export_posters
from installation.export.social import export_social
from installation.gallery.source import read_pieces
from installation.web import WebSettings, create_app

BASE = "https://museum.example/dstrtd"
# why a theme without a title: that is where the surfaces once disagreed (the slug on the poster, nothing on the
# social post and in the gallery, the theme's name on the contact sheet, the prompt on the web page)
UNTITLED = Theme(name="drowned-forest", prompts=("a drowned forest:1",), facts="Forests drown as the sea rises.",
                 hashtags=("#DSTRTD",))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (30, 120, 90)).save(out, "PNG")
    return out.getvalue()


def _piece(studio: Studio) -> Piece:
    with studio.catalog() as cat:
        cat.upsert_theme(UNTITLED)
        return cat.add_piece({"image.png": _png()}, prompt="a drowned forest:1 | text:-0.5", theme=UNTITLED.name,
                             status="accepted")


def _web_page(studio: Studio, path: str) -> tuple[int, str]:
    with TestClient(create_app(WebSettings(studio=studio.root, base_url=BASE))) as client:
        r = client.get(path)
    return r.status_code, r.text


def _decode_qr(image: Image.Image) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp", reason="the independent QR decoder (pip install zxing-cpp)")
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def _poster(catalog: Catalog, piece: Piece, out: Path) -> dict:
    config = PosterConfig(size="A5", dpi=72, pdf=False, base_url=BASE)
    [result] = export_posters(catalog, [piece], out, config, workers=1, record=False)
    assert result.ok, result.error
    return json.loads(result.sidecar.read_text()) | {"qr": _decode_qr(Image.open(result.png))}


def _social(catalog: Catalog, piece: Piece, out: Path) -> dict:
    [result] = export_social(catalog, [piece], out, SocialConfig(link=True, base_url=BASE), record=False)
    assert result.ok, result.error
    return json.loads((out / piece.slug / "post.json").read_text())


def _gallery_qr(studio: Studio, piece: Piece, shot: Path) -> list[str]:
    from installation.gallery.app import GalleryApp
    from installation.gallery.config import GalleryConfig

    app = GalleryApp(studio.root, GalleryConfig(windowed=(640, 360), base_url=BASE, screenshot=str(shot), hold=100.0,
                                                poll=0.05, title=False, reflection=False))
    app.start()
    try:
        deadline = time.monotonic() + 10.0
        while not (app.step(0.05).current == piece.id and app.last_frame.incoming is None and app.frames > 5):
            assert time.monotonic() < deadline, "the gallery never showed the piece"
            time.sleep(0.004)  # let the decode and catalog threads run
    finally:
        app.close()
    return _decode_qr(Image.open(shot))


def test_one_piece_has_one_title_on_every_surface(studio: Studio, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    piece = _piece(studio)
    expected = "A drowned forest"
    status, page = _web_page(studio, public.piece_path(piece.slug))
    assert status == 200
    drawn: list[str] = []
    real_ellipsize = contact_sheet.ellipsize
    monkeypatch.setattr(contact_sheet, "ellipsize",
                        lambda draw, text, font, width: drawn.append(text) or real_ellipsize(draw, text, font, width))
    with studio.catalog() as cat:
        poster = _poster(cat, piece, tmp_path / "posters")
        post = _social(cat, piece, tmp_path / "social")
        contact_sheet.render_contact_sheet(cat, [piece])
        [shown] = read_pieces(cat)
    titles = {
        "web": html.unescape(re.search(r"<h1>(.*?)</h1>", page).group(1)),  # type: ignore[union-attr]
        "poster": poster["title"],
        "social": post["title"],
        "contact sheet": drawn[1],  # after the sheet's heading
        "gallery": shown.title,
    }
    assert titles == dict.fromkeys(titles, expected)


def test_the_route_prefix_is_declared_once(studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    piece = _piece(studio)
    monkeypatch.setattr(public, "PIECE_ROUTE", "/piece")
    url = f"{BASE}/piece/{piece.slug}"
    with studio.catalog() as cat:
        poster = _poster(cat, piece, tmp_path / "posters")
        post = _social(cat, piece, tmp_path / "social")
    assert poster["qr"] == [url] and poster["url"] == url
    assert post["url"] == url and url in post["caption"]
    assert _gallery_qr(studio, piece, tmp_path / "shot.png") == [url]
    status, page = _web_page(studio, f"/piece/{piece.slug}")
    assert status == 200 and f'<meta property="og:url" content="{url}">' in page
    assert f'src="/dstrtd/piece/{piece.slug}/image.png"' in page
    assert _web_page(studio, f"/piece/{piece.slug}/image.png")[0] == 200
    assert _web_page(studio, f"/p/{piece.slug}")[0] == 404
