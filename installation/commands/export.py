"""`dstrtd export posters|social|contact-sheet|mark-published`: print posters, Instagram posts, contact sheets.

The options of posters, posts and sheets are derived from `PosterConfig`, `SocialConfig` and `ContactSheetConfig`
(same names, defaults, choices and help). Imports nothing heavy at module level; the export package never loads torch.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from installation.commands._common import add_studio_argument
from installation.commands._options import add_config_options, config_from_args


def _add_piece_selection(parser: argparse.ArgumentParser, statuses: tuple[str, ...]) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pieces", nargs="+", metavar="SLUG", default=[], help="these pieces (by slug)")
    group.add_argument("--featured", action="store_true", help="the featured pieces")
    group.add_argument("--status", nargs="+", choices=statuses, default=None,
                       help="pieces with these statuses (default: the public ones, accepted and featured)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many pieces")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from curation.catalog import PIECE_STATUSES
    from installation.export.config import POSTER_WORKERS, ContactSheetConfig, PosterConfig, SocialConfig

    sub = parser.add_subparsers(dest="export_kind", metavar="KIND", required=True)

    p = sub.add_parser("posters", help="print-ready PDF and PNG posters: the artwork and a QR code to its page",
                       description="Print-ready posters (PDF + PNG at --dpi): the artwork large and a QR code to "
                                   "the piece's page, nothing else unless --title.")
    add_studio_argument(p)
    _add_piece_selection(p, PIECE_STATUSES)
    p.add_argument("--out", default=None, help="output folder (default: STUDIO/exports/posters)")
    add_config_options(p, PosterConfig)
    p.add_argument("--workers", type=int, default=POSTER_WORKERS,
                   help=f"processes rendering posters (default: {POSTER_WORKERS})")
    p.add_argument("--allow-private", action="store_true",
                   help="also print pieces that are not public (proofs): their QR codes lead nowhere until the "
                        "pieces are accepted (default: such pieces are refused, named, before anything is drawn)")
    p.set_defaults(_export=_posters)

    s = sub.add_parser("social", help="Instagram posts: image, caption, alt text, post.json per piece",
                       description="A folder per piece with the image (1080 px, sRGB JPEG), caption.txt in the "
                                   "artist's words, alt.txt and post.json.")
    add_studio_argument(s)
    _add_piece_selection(s, PIECE_STATUSES)
    s.add_argument("--out", default=None, help="output folder (default: STUDIO/exports/social)")
    add_config_options(s, SocialConfig)
    s.set_defaults(_export=_social)

    c = sub.add_parser("contact-sheet", help="one PNG of many pieces with their titles and scores",
                       description="One PNG of many pieces (newest first) in a grid, with title, status and scores.")
    add_studio_argument(c)
    c.add_argument("--out", default=None, help="PNG file (default: STUDIO/exports/contact-sheet.png)")
    c.add_argument("--status", nargs="+", choices=PIECE_STATUSES, default=None,
                   help="only these statuses (default: all)")
    c.add_argument("--limit", type=int, default=200, help="at most this many pieces, newest first (default: 200)")
    add_config_options(c, ContactSheetConfig)
    c.set_defaults(_export=_contact_sheet)

    m = sub.add_parser("mark-published", help="record the Instagram post of a piece (for engagement read-back)",
                       description="Record that a piece was published as an Instagram post, by its shortcode or "
                                   "URL; `dstrtd engagement` then matches the post to the piece.")
    add_studio_argument(m)
    m.add_argument("slug", help="the piece's slug")
    m.add_argument("shortcode", help="the post's shortcode or URL (https://www.instagram.com/p/SHORTCODE/)")
    m.set_defaults(_export=_mark_published)


def run(args: argparse.Namespace) -> int:
    return int(args._export(args))


@contextlib.contextmanager
def _progress(total: int, unit: str) -> Iterator[Callable[[int, int, Any], None]]:
    """A tqdm bar on stderr (plain lines where tqdm is missing); yields the callback the exporters call."""
    try:
        from tqdm import tqdm
    except ImportError:
        def plain(done: int, n: int, result: Any) -> None:
            print(f"{done}/{n} {result.slug}{'' if result.ok else ' FAILED'}", file=sys.stderr)

        yield plain
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True) as bar, logging_redirect_tqdm():
        def update(done: int, n: int, result: Any) -> None:
            bar.set_postfix_str(result.slug, refresh=False)
            bar.update(done - bar.n)

        yield update


def _open(args: argparse.Namespace) -> Any:
    from curation.studio import open_studio

    studio = open_studio(args.studio, args.catalog)
    studio.sync_themes()  # why: posts and posters carry the themes' current reflection, facts and hashtags
    return studio


def _pieces(catalog: Any, args: argparse.Namespace) -> list[Any]:
    from curation.catalog import PUBLIC_STATUSES
    from installation.export.pieces import select_pieces

    status = args.status if args.status else PUBLIC_STATUSES
    pieces = select_pieces(catalog, args.pieces, featured=args.featured, status=status, limit=args.limit)
    if not pieces:
        from installation.export.errors import ExportError

        raise ExportError("no pieces to export (none with the asked status; see `dstrtd catalog list`)")
    return pieces


def _report_failures(results: list[Any], what: str) -> int:
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"  failed: {r.slug}: {r.error}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(results)} {what} failed (the others were written)", file=sys.stderr)
        return 1
    return 0


def _posters(args: argparse.Namespace) -> int:
    from installation.export.config import PosterConfig
    from installation.export.posters import check_posters, export_posters

    config = config_from_args(PosterConfig, args)
    studio = _open(args)
    out = Path(args.out) if args.out else studio.exports_dir / "posters"
    with studio.catalog() as catalog:
        pieces = _pieces(catalog, args)
        check_posters(pieces, config, allow_private=args.allow_private)  # before the progress bar: one line
        with _progress(len(pieces), "poster") as on_progress:
            results = export_posters(catalog, pieces, out, config, workers=args.workers, on_progress=on_progress,
                                     allow_private=args.allow_private)
    ok = [r for r in results if r.ok]
    low = [r for r in ok if r.warnings]
    print(f"wrote {len(ok)} posters ({config.size}, {config.dpi} dpi) to {out}")
    if low:
        worst = min(r.effective_dpi or 0 for r in low)
        print(f"  {len(low)} print their artwork below {config.min_dpi:.0f} dpi (lowest {worst:.0f} dpi); "
              "see the warnings in their .json sidecars")
    return _report_failures(results, "posters")


def _social(args: argparse.Namespace) -> int:
    from installation.export.config import SocialConfig
    from installation.export.social import export_social

    config = config_from_args(SocialConfig, args)
    studio = _open(args)
    out = Path(args.out) if args.out else studio.exports_dir / "social"
    with studio.catalog() as catalog:
        pieces = _pieces(catalog, args)
        with _progress(len(pieces), "post") as on_progress:
            results = export_social(catalog, pieces, out, config, on_progress=on_progress)
    print(f"wrote {sum(r.ok for r in results)} posts ({config.format}) to {out}")
    return _report_failures(results, "posts")


def _contact_sheet(args: argparse.Namespace) -> int:
    from installation.export.config import ContactSheetConfig
    from installation.export.contact_sheet import export_contact_sheet

    studio = _open(args)
    out = Path(args.out) if args.out else studio.exports_dir / "contact-sheet.png"
    with studio.catalog(readonly=True) as catalog:
        pieces = catalog.list_pieces(args.status, limit=args.limit, newest_first=True)
        path = export_contact_sheet(catalog, pieces, out, config_from_args(ContactSheetConfig, args))
    print(f"wrote a contact sheet of {len(pieces)} pieces to {path}")
    return 0


def _mark_published(args: argparse.Namespace) -> int:
    from installation.engagement.readback import mark_published
    from installation.engagement.sources import post_url

    studio = _open(args)
    with studio.catalog() as catalog:
        code = mark_published(catalog, args.slug, args.shortcode)
    print(f"{args.slug} is published as {post_url(code)}")
    return 0
