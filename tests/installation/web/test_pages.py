"""The pages people see: what a piece's page tells, what the index and theme pages list, and what they hide."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from curation.catalog import Piece
from curation.public import piece_url
from curation.studio import Studio, init_studio

from .support import BASE, make_client, meta_tags


def test_piece_page_tells_the_story_and_how_it_was_made(client: TestClient, pieces: dict[str, Piece]) -> None:
    reef = pieces["reef"]
    r = client.get(f"/p/{reef.slug}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    for text in ("This image was created by Artificial Intelligence.",
                 "This is what a coral reef looks like for a computer.",  # the theme's reflection
                 "Coral reefs support more species than any other marine environment",  # its facts
                 "Is your perception DSTRTD (distorted)?",
                 "a coral reef, digital distortion, glitch art (weight 0.6)", "text, watermark (pushed away)",
                 "<dd>250</dd>", "<dd>42</dd>", "vqgan_imagenet_f16_16384.ckpt", "ViT-B-32:openai, ViT-B-16:openai",
                 "Adam, learning rate 0.1", "1 min 35 s on cuda",
                 f'src="/p/{reef.slug}/image.png"', f'src="/p/{reef.slug}/loss.png"',
                 "<td>aesthetic</td><td class=\"num\">6.84</td>", "<td>aligner</td><td class=\"num\">0.31</td>",
                 'href="/t/coral-reef"', 'href="/"', f'href="/p/{pieces["reef2"].slug}"'):
        assert text in page, text
    assert "/home/artist" not in page, "a local path reached the public page"
    assert pieces["draft"].slug not in page, "an unpublished piece of the theme is linked"
    assert reef.slug + '"' not in page.split('class="onward"')[1], "the piece lists itself as another piece"


def test_piece_page_reads_on_a_phone_and_shares(client: TestClient, pieces: dict[str, Piece]) -> None:
    reef = pieces["reef"]
    page = client.get(f"/p/{reef.slug}").text
    meta = meta_tags(page)
    assert meta["viewport"] == "width=device-width, initial-scale=1"
    assert meta["og:url"] == piece_url(reef.slug, BASE) == f"{BASE}/p/{reef.slug}"
    assert meta["og:image"] == f"{BASE}/p/{reef.slug}/image.png"
    assert (meta["og:image:width"], meta["og:image:height"]) == ("512", "512")
    assert meta["og:title"] == "Coral reef · DSTRTD" and meta["og:type"] == "article"
    assert meta["og:description"].startswith("This is what a coral reef looks like")
    assert meta["twitter:card"] == "summary_large_image"
    css_href = page.split('rel="stylesheet" href="')[1].split('"')[0]
    css = client.get(css_href)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "max-width" in css.text and ".artwork img { width: 100%;" in css.text
    assert len(css.content) < 8000, "one small stylesheet"


def test_every_text_is_escaped(client: TestClient, pieces: dict[str, Piece]) -> None:
    for path in (f"/p/{pieces['evil'].slug}", "/"):
        page = client.get(path).text
        assert "<script" not in page.lower() and "<b>" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page
    page = client.get(f"/p/{pieces['evil'].slug}").text
    assert meta_tags(page)["og:title"] == "<b>Bold</b> & <script>alert('t')</script> · DSTRTD"  # intact once parsed
    # A piece without a theme, a loss curve or scores still has a whole page, just without those parts.
    assert "loss.png" not in page and "curators thought" not in page and "Is your perception" in page


@pytest.mark.parametrize("which", ["draft", "dropped"])
def test_unpublished_pieces_are_not_found(client: TestClient, pieces: dict[str, Piece], which: str) -> None:
    slug = pieces[which].slug
    for path in (f"/p/{slug}", f"/p/{slug}/image.png", f"/p/{slug}/thumb.jpg", f"/p/{slug}/loss.png",
                 f"/api/pieces/{slug}"):
        assert client.get(path).status_code == 404, path
    r = client.get(f"/p/{slug}")
    assert r.headers["content-type"].startswith("text/html") and 'href="/"' in r.text  # a way on, not a dead end


def test_index_lists_published_pieces_newest_first(client: TestClient, pieces: dict[str, Piece]) -> None:
    page = client.get("/").text
    order = [pieces[k].slug for k in ("evil", "glacier", "reef2", "reef")]
    positions = [page.index(f'href="/p/{slug}"') for slug in order]
    assert positions == sorted(positions)
    assert all(f'src="/p/{slug}/thumb.jpg"' in page for slug in order)
    assert pieces["draft"].slug not in page and pieces["dropped"].slug not in page
    assert meta_tags(page)["og:image"] == f"{BASE}/p/{pieces['evil'].slug}/image.png"


def test_index_and_theme_pages_are_paged(studio: Studio, pieces: dict[str, Piece]) -> None:
    with make_client(studio.root, page_size=3) as c:
        first, second = c.get("/").text, c.get("/?page=2").text
        assert first.count('<li><a href="/p/') == 3 and 'href="/?page=2"' in first
        assert second.count('<li><a href="/p/') == 1 and 'href="/"' in second and "?page=3" not in second
        assert c.get("/?page=3").status_code == 404
        for bad in ("0", "-1", "abc", "1e3", "9" * 30):
            r = c.get("/", params={"page": bad})
            assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), bad
    with make_client(studio.root, page_size=1) as c:
        first, second = c.get("/t/coral-reef").text, c.get("/t/coral-reef?page=2").text
        assert pieces["reef2"].slug in first and 'href="/t/coral-reef?page=2"' in first
        assert pieces["reef"].slug in second and 'href="/t/coral-reef"' in second


def test_theme_page(client: TestClient, pieces: dict[str, Piece]) -> None:
    page = client.get("/t/coral-reef").text
    assert "<h1>Coral reef</h1>" in page and "This is what a coral reef looks like" in page
    assert pieces["reef"].slug in page and pieces["reef2"].slug in page
    assert pieces["draft"].slug not in page and pieces["glacier"].slug not in page
    assert "No pieces of this theme" in client.get("/t/wetland").text  # its only piece was rejected
    for bad in ("/t/unknown", "/t/%00", "/t/" + "x" * 300, "/t/coral-reef%2f..%2f"):
        assert client.get(bad).status_code == 404, bad


def test_an_empty_studio_says_so(tmp_path: Path) -> None:
    studio = init_studio(tmp_path / "empty")
    with make_client(studio.root) as c:
        r = c.get("/")
        assert r.status_code == 200 and "No pieces are published yet" in r.text
        assert c.get("/api/pieces").json() == {"items": [], "offset": 0, "limit": 24, "total": 0, "next": None}


def test_an_imported_photograph_is_presented_as_one_with_its_photographer(client: TestClient,
                                                                         studio: Studio) -> None:
    from curation.photos import photo_settings

    from .support import png

    with studio.catalog() as cat:
        photo = cat.add_piece({"image.png": png((30, 90, 40))}, prompt="Path", theme="old-growth-forest",
                              title="Path", status="accepted",
                              settings={"imported_from": "/home/ana/photos/plasma__Path.jpg",
                                        **photo_settings("Risto Saukonpää", "LGPLv3")})
        legacy = cat.add_piece({"image.png": png((30, 91, 40))}, prompt="Moss", title="Moss", status="accepted",
                               settings={"imported_from": "/home/ana/photos/moss.jpg"})
    page = client.get(f"/p/{photo.slug}").text
    assert "Photograph by Risto Saukonpää (LGPLv3)." in page
    assert "created by Artificial Intelligence" not in page and "generated by AI" not in page
    assert "No one drew this" not in page and "The prompt:" not in page and "A camera took this picture" in page
    assert 'alt="Path: photograph by Risto Saukonpää (LGPLv3)"' in page
    assert "<dt>Photograph</dt><dd>by Risto Saukonpää</dd>" in page and "<dt>Licence</dt><dd>LGPLv3</dd>" in page
    assert meta_tags(page)["og:image:alt"] == "Path: photograph by Risto Saukonpää (LGPLv3)"
    assert "/home/ana" not in page
    assert "Photograph (photographer unknown)." in client.get(f"/p/{legacy.slug}").text
    shown = client.get(f"/api/pieces/{photo.slug}").json()["settings"]
    assert shown == {"kind": "photo", "credit": "Risto Saukonpää", "licence": "LGPLv3"}
