"""Posters: paper sizes, layout arithmetic, the rendered QR code decoded back by an independent reader (zxing-cpp)
from the PNG and from the PDF's page, the effective-dpi warning, the catalog record, and a batch that survives a
broken piece."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PdfParser

from curation.public import piece_url
from installation.export.config import PosterConfig
from installation.export.errors import ExportError
from installation.export.files import encode_png
from installation.export.posters import export_posters, render_poster
from installation.export.upscale import LanczosUpscaler, Upscaler, get_upscaler
from installation.qr import QUIET_ZONE

zxingcpp = pytest.importorskip("zxingcpp", reason="the independent QR decoder (pip install zxing-cpp)")

URL = "https://dstrtd.example.org/p/coral-reef-abc123"


def decode_qr(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def pdf_page_image(path: Path) -> Image.Image:
    """The page of a one-page PDF as pixels: pdftoppm where installed, else the page's embedded image (our PDFs are
    one full-page image), read with Pillow's PDF parser."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        png = subprocess.run([pdftoppm, "-r", "150", "-png", "-singlefile", str(path), "-"], capture_output=True,
                             check=True, timeout=60).stdout
        return Image.open(io.BytesIO(png)).convert("RGB")
    pdf = PdfParser.PdfParser(str(path))
    try:
        page = pdf.read_indirect(pdf.pages[0])
        stream = pdf.read_indirect(page[b"Resources"][b"XObject"][b"image"])
        return Image.open(io.BytesIO(bytes(stream.buf))).convert("RGB")
    finally:
        pdf.close()


def pdf_page(path: Path) -> dict[str, object]:
    pdf = PdfParser.PdfParser(str(path))
    try:
        return {k.name_as_str(): v for k, v in pdf.read_indirect(pdf.pages[0]).items()}
    finally:
        pdf.close()


# -- rendering and decoding ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [
    PosterConfig(size="A4", dpi=150),
    PosterConfig(size="A4", dpi=150, background="#101010", title=True, qr_error="H"),
    PosterConfig(size="A5", dpi=150, layout="fill", bleed=True, crop_marks=True, title=True),
    PosterConfig(size="200x250mm", dpi=150, orientation="landscape"),
], ids=["fit", "dark-title-H", "fill-bleed-marks", "custom-landscape"])
def test_the_qr_code_decodes_to_the_exact_url_from_png_and_pdf(config: PosterConfig, tmp_path: Path,
                                                               artwork: bytes) -> None:
    from installation.export.posters import PosterFiles, write_poster

    art = Image.open(io.BytesIO(artwork))
    rendered = render_poster(art, URL, config, title="Coral reef")
    files = PosterFiles(tmp_path / "p.pdf", tmp_path / "p.png", tmp_path / "p.json")
    write_poster(rendered, files, config)
    assert decode_qr(Image.open(files.png)) == [URL]
    assert decode_qr(pdf_page_image(files.pdf)) == [URL]
    with Image.open(files.png) as png:
        assert png.size == rendered.geometry.page
        assert png.info["URL"] == URL and "effective dpi" in png.info["Comment"]
        assert png.info["dpi"] == pytest.approx((config.dpi, config.dpi), abs=0.05)
    page = pdf_page(files.pdf)
    w_pt, h_pt = (v * 72 / config.dpi for v in rendered.geometry.page)
    assert page["MediaBox"] == pytest.approx([0, 0, w_pt, h_pt], abs=0.01)
    if config.bleed or config.crop_marks:
        assert page["TrimBox"] == pytest.approx(rendered.geometry.pdf_box(rendered.geometry.trim), abs=0.01)
        assert "BleedBox" in page
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_a3_at_300_dpi_decodes_and_is_at_least_2_5_cm(artwork: bytes) -> None:
    config = PosterConfig(size="A3")
    rendered = render_poster(Image.open(io.BytesIO(artwork)), URL, config)
    assert rendered.image.size == (3508, 4961)
    small = rendered.image.resize((1754, 2480), Image.Resampling.BOX)  # what a phone sees from further away
    assert decode_qr(small) == [URL]
    geo = rendered.geometry
    dark = np.asarray(rendered.image.crop((geo.qr[0], geo.qr[1], geo.qr[0] + geo.qr[2], geo.qr[1] + geo.qr[3])))
    rows = np.where((dark < 128).all(axis=2).any(axis=1))[0]
    assert (rows[-1] - rows[0] + 1) / 300 * 2.54 >= 2.5  # the printed code is at least 2.5 cm
    assert rows[0] == QUIET_ZONE * geo.qr_module  # and keeps its 4-module quiet zone


def test_upscalers_plug_in_through_the_protocol(artwork: bytes) -> None:
    class Nearest:
        name = "nearest"

        def upscale(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
            return image.resize(size, Image.Resampling.NEAREST)

    assert isinstance(LanczosUpscaler(), Upscaler) and isinstance(Nearest(), Upscaler)
    art = Image.open(io.BytesIO(artwork))
    rendered = render_poster(art, URL, PosterConfig(size="A5", dpi=100), upscaler=Nearest())
    assert decode_qr(rendered.image) == [URL]
    with pytest.raises(ExportError, match="known: lanczos"):
        get_upscaler("esrgan-not-installed")


def test_png_writer_round_trips_pixels_and_dpi() -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (300, 41, 3), dtype=np.uint8)
    data = b"".join(encode_png(Image.fromarray(arr), dpi=300, text={"URL": URL, "Title": "Récif"},
                               rows_per_block=64))
    back = Image.open(io.BytesIO(data))
    assert np.array_equal(np.asarray(back), arr)
    assert back.info["dpi"] == pytest.approx((300, 300), abs=0.05)
    assert back.info["URL"] == URL and back.info["Title"] == "Récif"


# -- batch, catalog, warnings --------------------------------------------------------------------------------------


def test_batch_records_exports_warns_on_low_dpi_and_survives_a_broken_piece(
        catalog, add_piece, out_dir: Path, base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    good = add_piece(catalog, title="First light")
    broken = add_piece(catalog, theme="glacier")
    (catalog.root / broken.file).unlink()
    seen: list[tuple[int, int, str]] = []
    config = PosterConfig(size="A5", dpi=100)
    with caplog.at_level(logging.WARNING, logger="installation.export.posters"):
        results = export_posters(catalog, [good, broken], out_dir, config, workers=1,
                                 on_progress=lambda done, total, r: seen.append((done, total, r.slug)))
    assert [(d, t) for d, t, _ in seen] == [(1, 2), (2, 2)]
    by_slug = {r.slug: r for r in results}
    assert by_slug[good.slug].ok and not by_slug[broken.slug].ok
    assert "missing" in by_slug[broken.slug].error

    sidecar = json.loads(by_slug[good.slug].sidecar.read_text())
    assert sidecar["url"] == piece_url(good.slug, base_url)
    assert sidecar["artwork"]["effective_dpi"] < 150
    assert sidecar["warnings"] and "below 150 dpi" in sidecar["warnings"][0]
    assert sidecar["config"]["size"] == "A5" and sidecar["qr"]["quiet_zone_modules"] == 4
    assert any("below 150 dpi" in r.message for r in caplog.records)
    assert decode_qr(Image.open(by_slug[good.slug].png)) == [piece_url(good.slug, base_url)]

    exports = catalog.exports(kind="poster")
    assert [e["piece_id"] for e in exports] == [good.id]
    assert exports[0]["path"].endswith(f"{good.slug}-A5.pdf")
    assert exports[0]["details"]["effective_dpi"] < 150
    assert not catalog.exports(piece_id=broken.id)


def test_batch_on_a_process_pool(catalog, add_piece, out_dir: Path, base_url: str) -> None:
    pieces = [add_piece(catalog), add_piece(catalog, theme="wetland", size=(96, 160))]
    results = export_posters(catalog, pieces, out_dir, PosterConfig(size="A5", dpi=100, png=False), workers=2)
    assert all(r.ok for r in results), [r.error for r in results]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [f"{p.slug}-A5.pdf" for p in pieces] + [f"{p.slug}-A5.json" for p in pieces])
    for piece in pieces:
        assert decode_qr(pdf_page_image(out_dir / f"{piece.slug}-A5.pdf")) == [piece_url(piece.slug, base_url)]
    assert len(catalog.exports(kind="poster")) == 2
