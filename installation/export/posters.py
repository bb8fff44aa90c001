"""Print posters: the artwork large, a QR code to the piece's page, nothing else unless asked.

Seed 004: "The posters will only present the artwork and a QR-code leading to the Instagram account [...], this in
order to create a sense of mystery around the pieces which nudges people into scanning the code." The code leads
to the piece's own page (`curation.public.piece_url`), which links on to the account.

`layout.poster_geometry` decides where everything goes (pure arithmetic, unit-tested), `render_poster` draws one page,
`write_poster` writes its PDF, PNG and sidecar JSON atomically, and `export_posters` runs a batch on a process pool,
records each poster in the catalog and reports progress through a callback.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor, ImageDraw, PdfParser

from curation.catalog import PUBLIC_STATUSES, Catalog, Piece, now_iso
from curation.public import public_view
from generator.common.files import atomic_path, write_json_atomic
from generator.common.images import to_rgb
from installation.export.config import POSTER_WORKERS, PosterConfig
from installation.export.errors import ExportError
from installation.export.files import write_png
from installation.export.fonts import ellipsize, get_font
from installation.export.layout import LINE_SPACING, TITLE_MM, PosterGeometry, check_page_pixels, poster_geometry
from installation.export.paper import mm_to_px, parse_size, px_to_mm
from installation.export.pieces import open_artwork, relative_to_studio
from installation.export.upscale import LanczosUpscaler, Upscaler, get_upscaler
from installation.qr import QUIET_ZONE, qr_image

log = logging.getLogger(__name__)


@dataclass
class RenderedPoster:
    image: Image.Image  # the whole page, RGB, `geometry.dpi`
    geometry: PosterGeometry
    url: str
    warnings: list[str] = field(default_factory=list)


def render_poster(artwork: Image.Image, url: str, config: PosterConfig, *, title: str = "",
                  upscaler: Upscaler | None = None) -> RenderedPoster:
    """Draw one poster page: the artwork upscaled for print and the QR code of `url` (and `title` if asked)."""
    lines = [title, "DSTRTD"] if config.title and title else (["DSTRTD"] if config.title else [])
    geo = poster_geometry(config, artwork.size, url, title_lines=len(lines))
    upscaler = upscaler or get_upscaler(config.upscaler)
    background = ImageColor.getrgb(config.background)[:3]
    if geo.bleed[2:] == geo.page:
        page = Image.new("RGB", geo.page, background)
    else:
        page = Image.new("RGB", geo.page, "white")
        bx, by, bw, bh = geo.bleed
        page.paste(background, (bx, by, bx + bw, by + bh))

    source = to_rgb(artwork)
    if geo.art_crop != (0, 0, *artwork.size):
        source = source.crop(geo.art_crop)
    ax, ay, aw, ah = geo.art
    page.paste(upscaler.upscale(source, (aw, ah)), (ax, ay))

    qx, qy, tile, _ = geo.qr
    code = qr_image(url, tile, error=config.qr_error)
    if code.size != (tile, tile):  # qr_image rounds modules up; our tile is already a whole number of them
        raise ExportError(f"QR code came out {code.size[0]} px, expected {tile}")
    page.paste(code, (qx, qy))

    draw = ImageDraw.Draw(page)
    if lines and geo.title is not None and geo.title[2] > 0:
        _draw_title(draw, geo, lines, config)
    for x, y, w, h in geo.marks:
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=(0, 0, 0))

    warnings = []
    eff = geo.effective_dpi
    if eff < config.min_dpi:
        sw, sh = geo.art_crop[2] - geo.art_crop[0], geo.art_crop[3] - geo.art_crop[1]
        warnings.append(
            f"artwork prints at {eff:.0f} dpi ({sw}x{sh} source px over {px_to_mm(aw, geo.dpi):.0f}x"
            f"{px_to_mm(ah, geo.dpi):.0f} mm), below {config.min_dpi:.0f} dpi: it will look soft up close; "
            "print it smaller, generate it larger or use a learned upscaler")
    return RenderedPoster(image=page, geometry=geo, url=url, warnings=warnings)


def _draw_title(draw: ImageDraw.ImageDraw, geo: PosterGeometry, lines: list[str], config: PosterConfig) -> None:
    x, y, w, h = geo.title  # type: ignore[misc]
    size = mm_to_px(TITLE_MM, geo.dpi)
    on_tile = config.layout == "fill"
    pad = QUIET_ZONE * geo.qr_module if on_tile else 0
    fonts = [get_font(round(size * (0.7 if i == len(lines) - 1 else 1.0)), bold=i < len(lines) - 1)
             for i in range(len(lines))]
    texts = [ellipsize(draw, line, font, w - 2 * pad) for line, font in zip(lines, fonts, strict=True)]
    if on_tile:  # a white label as wide as its text, like the code's tile
        label_w = round(max(draw.textlength(t, font=f) for t, f in zip(texts, fonts, strict=True))) + 2 * pad
        draw.rectangle((x, y, x + label_w - 1, y + h - 1), fill=(255, 255, 255))
    ink = (20, 20, 20) if (on_tile or geo.light_background) else (235, 235, 235)
    muted = (110, 110, 110) if (on_tile or geo.light_background) else (160, 160, 160)
    cursor = y + pad
    for i, (text, font) in enumerate(zip(texts, fonts, strict=True)):
        draw.text((x + pad, cursor), text, font=font, fill=muted if i == len(texts) - 1 else ink)
        cursor += round(size * LINE_SPACING)


# -- files ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PosterFiles:
    pdf: Path | None
    png: Path | None
    sidecar: Path


def poster_paths(out_dir: Path, slug: str, config: PosterConfig) -> PosterFiles:
    stem = f"{slug}-{parse_size(config.size).name}"
    return PosterFiles(pdf=out_dir / f"{stem}.pdf" if config.pdf else None,
                       png=out_dir / f"{stem}.png" if config.png else None,
                       sidecar=out_dir / f"{stem}.json")


def _add_page_boxes(path: Path, geo: PosterGeometry) -> None:
    """Add TrimBox and BleedBox to the single page of a Pillow PDF (an incremental update, as Pillow's append)."""
    with open(path, "r+b") as f:
        pdf = PdfParser.PdfParser(f=f, mode="r+b")
        ref = pdf.pages[0]
        page = {key.name_as_str(): value for key, value in pdf.read_indirect(ref).items()}
        page["TrimBox"] = geo.pdf_box(geo.trim)
        page["BleedBox"] = geo.pdf_box(geo.bleed)
        pdf.start_writing()
        f.write(b"\n")
        pdf.write_obj(ref, **page)
        pdf.write_xref_and_trailer()
        pdf.close()


def write_poster(rendered: RenderedPoster, files: PosterFiles, config: PosterConfig, *,
                 info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the PDF, PNG and sidecar JSON of a rendered poster atomically; returns the sidecar's content."""
    geo = rendered.geometry
    title = (info or {}).get("title") or (info or {}).get("slug") or "DSTRTD poster"
    note = f"artwork effective dpi {geo.effective_dpi:.0f}"
    if rendered.warnings:
        note += f" (below {config.min_dpi:.0f})"
    if files.pdf is not None:
        with atomic_path(files.pdf) as tmp:
            rendered.image.save(tmp, "PDF", resolution=float(geo.dpi), quality=config.jpeg_quality, subsampling=0,
                                title=str(title), author="DSTRTD", subject=rendered.url, keywords=note,
                                creator="dstrtd export posters")
            if geo.trim[2:] != geo.page:
                _add_page_boxes(tmp, geo)
    if files.png is not None:
        write_png(files.png, rendered.image, dpi=geo.dpi, level=config.png_level,
                  text={"Title": str(title), "URL": rendered.url, "Comment": note, "Software": "DSTRTD"})
    sidecar = {
        **(info or {}),
        "url": rendered.url,
        "files": {"pdf": files.pdf.name if files.pdf else None, "png": files.png.name if files.png else None},
        "paper": {"name": geo.paper.name, "width_mm": geo.paper.width_mm, "height_mm": geo.paper.height_mm},
        "dpi": geo.dpi,
        "page_px": list(geo.page),
        "page_mm": [round(px_to_mm(v, geo.dpi), 2) for v in geo.page],
        "trim_mm": geo.mm(geo.trim),
        "bleed_mm": config.bleed_mm if config.bleed else 0.0,
        "crop_marks": config.crop_marks,
        "artwork": {
            "source_px": [geo.art_crop[2] - geo.art_crop[0], geo.art_crop[3] - geo.art_crop[1]],
            "printed_mm": geo.mm(geo.art),
            "printed_px": list(geo.art[2:]),
            "effective_dpi": round(geo.effective_dpi, 1),
            "upscaler": config.upscaler,
        },
        "qr": {"error_correction": config.qr_error, "modules": geo.qr_modules, "quiet_zone_modules": QUIET_ZONE,
               "module_mm": round(px_to_mm(geo.qr_module, geo.dpi), 3),
               "symbol_mm": round(px_to_mm(geo.qr_module * (geo.qr_modules - 2 * QUIET_ZONE), geo.dpi), 2),
               "box_mm": geo.mm(geo.qr)},
        "warnings": rendered.warnings,
        "config": config.to_dict(),
        "created": now_iso(),
    }
    write_json_atomic(files.sidecar, sidecar)
    return sidecar


# -- batch ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PosterJob:
    """Everything a worker process needs for one poster (picklable, no catalog)."""

    piece_id: int
    slug: str
    title: str
    image: Path
    url: str
    out_dir: Path
    config: PosterConfig
    upscaler: Upscaler
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class PosterResult:
    piece_id: int
    slug: str
    pdf: Path | None = None
    png: Path | None = None
    sidecar: Path | None = None
    effective_dpi: float | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def run_poster_job(job: PosterJob) -> PosterResult:
    """Render and write one poster; never raises, a failure comes back in `error`."""
    start = time.perf_counter()
    result = PosterResult(job.piece_id, job.slug)
    try:
        rendered = render_poster(open_artwork(job.image), job.url, job.config, title=job.title, upscaler=job.upscaler)
        files = poster_paths(job.out_dir, job.slug, job.config)
        sidecar = write_poster(rendered, files, job.config, info=job.info)
        result.pdf, result.png, result.sidecar = files.pdf, files.png, files.sidecar
        result.effective_dpi = rendered.geometry.effective_dpi
        result.warnings = rendered.warnings
        result.details = {k: sidecar[k] for k in ("paper", "dpi", "bleed_mm", "crop_marks", "artwork", "qr")}
    except Exception as exc:  # noqa: BLE001 - one bad piece must not stop the batch; the message travels back
        result.error = str(exc) if isinstance(exc, ExportError) else f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result


ProgressCallback = Callable[[int, int, PosterResult], None]


def _pool_context() -> multiprocessing.context.BaseContext:
    """Spawn (a forked child would inherit whatever threads the parent runs), unless `__main__` is no file, as
    from stdin or a notebook, which spawn cannot re-import: then fork where the platform has it."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if (main_file and os.path.exists(main_file)) or "fork" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("fork")


def check_posters(pieces: Sequence[Piece], config: PosterConfig, *, allow_private: bool = False) -> None:
    """`ExportError` before anything is drawn: a page over `config.max_pixels`, or (unless `allow_private`) pieces
    that are not public, named: their posters' QR codes would lead to a page that answers "not found"."""
    check_page_pixels(config)
    private = [] if allow_private else [p for p in pieces if p.status not in PUBLIC_STATUSES]
    if private:
        named = ", ".join(f"{p.slug} ({p.status})" for p in private[:10])
        more = f" and {len(private) - 10} more" if len(private) > 10 else ""
        raise ExportError(f"not public, so their posters' QR codes would lead nowhere: {named}{more}; accept them "
                          "first (`dstrtd catalog accept SLUG` or the review page), or pass --allow-private to print "
                          "them anyway (proofs)")


def export_posters(catalog: Catalog, pieces: Sequence[Piece], out_dir: str | os.PathLike[str],
                   config: PosterConfig = PosterConfig(), *, workers: int = POSTER_WORKERS,
                   upscaler: Upscaler | None = None, on_progress: ProgressCallback | None = None,
                   record: bool = True, allow_private: bool = False) -> list[PosterResult]:
    """Export a poster per piece into `out_dir`; a failure on one piece is logged and the batch goes on.

    Refused before anything is drawn (`ExportError`): pieces that are not public unless `allow_private` (their QR
    codes would 404), and a page over `config.max_pixels`. Rendering runs on `workers` processes (1: in this
    process); this process alone writes to the catalog, one `add_export(piece_id, "poster", ...)` per poster written.
    `on_progress(done, total, result)` after each.
    """
    check_posters(pieces, config, allow_private=allow_private)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    upscaler = upscaler or get_upscaler(config.upscaler)
    if upscaler.name != config.upscaler:
        config = replace(config, upscaler=upscaler.name)
    themes = {t.name: t for t in catalog.list_themes()}
    jobs = []
    for piece in pieces:
        view = public_view(piece, themes.get(piece.theme or ""), config.base_url)
        info = {"piece_id": piece.id, "slug": piece.slug, "title": view.title, "theme": piece.theme,
                "sha256": piece.sha256}
        jobs.append(PosterJob(piece.id, piece.slug, view.title, catalog.abspath(piece.file), view.url, out, config,
                              upscaler, info))
    urls = {job.piece_id: job.url for job in jobs}
    results: list[PosterResult] = []

    def finish(result: PosterResult) -> None:
        if result.ok:
            for warning in result.warnings:
                log.warning("poster %s: %s", result.slug, warning)
            if record:
                main = result.pdf or result.png
                assert main is not None
                catalog.add_export(result.piece_id, "poster", relative_to_studio(catalog, main), details={
                    **result.details, "url": urls[result.piece_id],
                    "pdf": relative_to_studio(catalog, result.pdf) if result.pdf else None,
                    "png": relative_to_studio(catalog, result.png) if result.png else None,
                    "sidecar": relative_to_studio(catalog, result.sidecar) if result.sidecar else None,
                    "effective_dpi": round(result.effective_dpi or 0.0, 1), "warnings": result.warnings})
        else:
            log.error("poster %s failed: %s", result.slug, result.error)
        results.append(result)
        if on_progress is not None:
            on_progress(len(results), len(jobs), result)

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            finish(run_poster_job(job))
        return results
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=_pool_context())
    try:
        futures: dict[Future[PosterResult], PosterJob] = {pool.submit(run_poster_job, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker fails its pieces, not the batch
                result = PosterResult(job.piece_id, job.slug, error=f"worker failed: {type(exc).__name__}: {exc}")
            finish(result)
    except BaseException:
        # Ctrl-C: drop the queued posters; those being written finish or leave only a temporary file
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


__all__ = [
    "LanczosUpscaler",
    "PosterConfig",  # its home is installation.export.config; kept here for callers that import it with the batch
    "PosterJob",
    "PosterResult",
    "RenderedPoster",
    "check_posters",
    "export_posters",
    "poster_paths",
    "render_poster",
    "run_poster_job",
    "write_poster",
]
