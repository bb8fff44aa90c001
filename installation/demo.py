"""The offline demo: a studio, a few themed jobs, the worker, the curators, a poster, a post and gallery frames.

Everything runs on the tiny preset (random weights, no download), small and fast: the pieces are abstract noise,
not art, and the curators' scores are those of random networks. It shows the whole path a piece takes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.catalog import CatalogError
from curation.studio import CATALOG_NAME, Studio, init_studio
from generator.common.files import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

DEMO_JOBS: tuple[tuple[str, int], ...] = (  # (theme, seed)
    ("coral-reef", 1), ("coral-reef", 2), ("old-growth-forest", 3), ("old-growth-forest", 4),
    ("glacier", 5), ("glacier", 6), ("wetland", 7),
)
DEMO_SETTINGS: dict[str, Any] = {"size": [96, 96], "steps": 12, "cutn": 8}  # why: ~1 s a piece on two CPU cores

# Random curators give random scores: a lenient policy lets the demo show acceptance, featuring and rejection.
# The tiny random image encoder sees all noise images as much alike (cosines 0.9-0.95), so the duplicate threshold
# sits above that.
DEMO_POLICY: dict[str, Any] = {"min_aesthetic": 1.0, "min_alignment": -1.0, "duplicate_cosine": 0.97,
                               "featured_per_theme": 1, "max_per_theme": 2}

# Written into every folder the demo makes, before anything else: the demo reuses only folders holding it, so its
# lenient policy and noise pieces never land in an artist's studio.
DEMO_MARKER = ".dstrtd-demo"
DEMO_MARKER_TEXT = "This studio was made by `dstrtd demo` (tiny random models: noise pieces, a lenient policy).\n"

REAL_WEIGHTS_NOTE = """\
Look at them: `dstrtd gallery --studio {studio} --windowed 960x540` (the display), or
  `DSTRTD_WEB_TOKEN=demo dstrtd web --studio {studio}`, then http://localhost:8000/ (the public pages) and
  http://localhost:8000/review/login with the token `demo` (review and decide, as the artist).
These pieces come from tiny random networks, so they look like noise and their scores mean nothing. For real art:
  dstrtd weights fetch vqgan_imagenet_f16_16384 clip_vit_b_32_openai    (~1.3 GB into the weights cache)
  dstrtd studio --studio {studio} --preset imagenet_16384 --device cuda --scorer laion-vit-b-32
Offline, place the files by hand (`dstrtd weights list` says where) or pass local paths where a name is asked."""


@dataclass
class DemoReport:
    studio: Path
    jobs: list[int] = field(default_factory=list)
    pieces: dict[str, str] = field(default_factory=dict)  # slug -> status
    exports: dict[str, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def prepare_studio(out: Path) -> Studio:
    """The demo's studio in `out`: made if new or empty, reused if an earlier demo made it (`DEMO_MARKER`), refused
    otherwise (an artist's studio above all)."""
    if out.exists() and not out.is_dir():
        raise CatalogError(f"--out {out} is a file; give a folder for the demo studio")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_MARKER).is_file():
        what = ("a studio the demo did not make (the demo would write its lenient policy and noise pieces into it)"
                if (out / CATALOG_NAME).is_file() else "a folder with other files in it")
        raise CatalogError(f"--out {out} is {what}; give a new or empty folder (or an earlier demo's folder)")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / DEMO_MARKER).is_file():
        write_text_atomic(out / DEMO_MARKER, DEMO_MARKER_TEXT)
    studio = init_studio(out)
    policy_path = studio.root / "selection.json"
    if not policy_path.exists():
        write_json_atomic(policy_path, DEMO_POLICY)
    return studio


def queue_jobs(studio: Studio, jobs: Sequence[tuple[str, int]] = DEMO_JOBS) -> list[int]:
    ids = []
    with studio.catalog() as cat:
        for theme_name, seed in jobs:
            theme = cat.get_theme(theme_name)
            if theme is None:
                continue
            prompt = " | ".join((*theme.prompts, *theme.negative_prompts))
            ids.append(cat.enqueue(prompt, theme=theme_name, settings={"seed": seed}))
    return ids


def run_worker(studio: Studio, settings: dict[str, Any], device: str = "cpu") -> int:
    from installation.worker import StudioWorker, WorkerOptions

    options = WorkerOptions(preset="tiny", device=device, idle_exit=True, sample=False, overrides=settings,
                            scorer="tiny", encoder="tiny", random_curators=True, worker="demo")
    return StudioWorker(studio, options).run()


def export_examples(studio: Studio, report: DemoReport) -> None:
    """A poster and a social post of the best public piece, if the export part is installed."""
    with studio.catalog() as cat:
        public = cat.list_pieces("featured") or cat.list_pieces("accepted")
        if not public:
            report.notes.append("no piece was accepted, so there is nothing to export")
            return
        best = max(public, key=lambda p: p.scores.get("aesthetic", 0.0))
        try:
            from installation.export.posters import PosterConfig, export_posters
        except ImportError as exc:
            report.notes.append(f"posters skipped: the export part is not available ({exc})")
        else:
            results = export_posters(cat, [best], studio.exports_dir / "posters", PosterConfig(size="A5", dpi=150),
                                     workers=1)
            files = [Path(p) for r in results if r.ok for p in (r.pdf, r.png) if p]
            errors = [r.error for r in results if not r.ok]
            report.exports["poster"] = files
            if errors:
                report.notes.append(f"poster failed: {'; '.join(str(e) for e in errors)}")
        try:
            from installation.export.social import SocialConfig, export_social
        except ImportError as exc:
            report.notes.append(f"social post skipped: the export part is not available ({exc})")
        else:
            results = export_social(cat, [best], studio.exports_dir / "social", SocialConfig())
            report.exports["post"] = [Path(r.folder) for r in results if r.folder and not r.error]
            errors = [r.error for r in results if r.error]
            if errors:
                report.notes.append(f"social post failed: {'; '.join(errors)}")


def render_gallery_frames(studio: Studio, out_dir: Path, n: int = 3, timeout_s: float = 15.0,
                          clock: Callable[[], float] = time.monotonic) -> list[Path]:
    """Show the gallery headless (SDL dummy driver) in a 640x360 window and save `n` frames, one per piece."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from installation.gallery.app import GalleryApp
    from installation.gallery.config import GalleryConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    config = GalleryConfig(windowed=(640, 360), hold=0.4, crossfade=0.2, fps=30, poll=0.1, seed=0,
                           base_url=None, state=str(out_dir / "gallery-state.json"))
    app = GalleryApp(studio, config)
    saved: list[Path] = []
    seen: set[int] = set()
    app.start()
    try:
        start = last = clock()
        while len(saved) < n and clock() - start < timeout_s:
            now = clock()
            frame = app.step(min(0.1, now - last))
            last = now
            if (frame.current is not None and frame.incoming is None and frame.current not in seen
                    and frame.current in app.renderer.ids() and app.draws > 0):
                seen.add(frame.current)
                path = out_dir / f"frame-{len(saved) + 1}.png"
                app.renderer.save(str(path))
                saved.append(path)
            time.sleep(1 / 60)
    finally:
        app.close()
    return saved


def run_demo(out: str | os.PathLike[str], *, jobs: Sequence[tuple[str, int]] = DEMO_JOBS,
             settings: dict[str, Any] | None = None, gallery_frames: int = 3, device: str = "cpu",
             threads: int | None = 1, say: Callable[[str], None] = print) -> DemoReport:
    """Make a studio in `out`, queue `jobs`, run the worker (generate + curate), export and render; report.

    `threads` caps torch's CPU threads (None: torch's default). One is the default because the tiny models' kernels
    are too small to gain from more, and on a busy machine several spinning threads per process run ~10x slower.
    """
    started = time.monotonic()
    if threads:
        import torch

        torch.set_num_threads(threads)
    studio = prepare_studio(Path(out))
    report = DemoReport(studio.root)
    say(f"1/5 studio at {studio.root} (themes from themes.toml, lenient demo policy in selection.json)")
    report.jobs = queue_jobs(studio, jobs)
    say(f"2/5 queued {len(report.jobs)} jobs on the tiny preset")
    code = run_worker(studio, {**DEMO_SETTINGS, **(settings or {})}, device=device)
    if code != 0:
        raise CatalogError(f"the studio worker stopped with code {code}; see the log above")
    with studio.catalog() as cat:
        for job_id in report.jobs:
            job = cat.get_job(job_id)
            if job is not None and job.piece_id is not None:
                piece = cat.get_piece(job.piece_id)
                if piece is not None:
                    report.pieces[piece.slug] = piece.status
    counts: dict[str, int] = {}
    for status in report.pieces.values():
        counts[status] = counts.get(status, 0) + 1
    say(f"3/5 generated and curated {len(report.pieces)} pieces: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    export_examples(studio, report)
    say("4/5 exports: " + (", ".join(f"{k} ({len(v)} file(s))" for k, v in report.exports.items()) or "none"))
    if gallery_frames:
        try:
            frames = render_gallery_frames(studio, studio.root / "gallery-frames", gallery_frames)
            report.exports["gallery"] = frames
            if not frames:
                report.notes.append("the gallery showed no piece in time; no frame saved")
        except ImportError as exc:
            report.notes.append(f"gallery frames skipped: the gallery part is not available ({exc})")
        except Exception as exc:  # a display problem must not hide the rest of the demo
            log.warning("gallery frames failed", exc_info=True)
            report.notes.append(f"gallery frames skipped: {type(exc).__name__}: {exc}")
    say(f"5/5 gallery frames: {len(report.exports.get('gallery', []))}")
    report.seconds = time.monotonic() - started
    return report


def describe(report: DemoReport) -> str:
    """Where everything is, in words."""
    root = report.studio
    lines = [f"DSTRTD demo finished in {report.seconds:.0f} s. Everything is in {root}:",
             f"  catalog          {root / CATALOG_NAME}   (dstrtd catalog list --studio {root})",
             f"  pieces           {root / 'pieces'}/<slug>/ (image.png, settings.json, loss.csv, loss.png)"]
    for slug, status in report.pieces.items():
        lines.append(f"    {slug:<32} {status}")
    labels = {"poster": "poster", "post": "social post", "gallery": "gallery frames"}
    for kind, paths in report.exports.items():
        for i, p in enumerate(paths):
            lines.append(f"  {labels.get(kind, kind) if i == 0 else '':<16} {p}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    lines.append(REAL_WEIGHTS_NOTE.format(studio=root))
    return "\n".join(lines)
