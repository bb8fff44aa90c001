"""`dstrtd engagement`: read likes and comments of the published Instagram posts back into the catalog, and turn them
into the audience's ratings for the aesthetic scorer (`--export-ratings`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from installation.commands._common import add_studio_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_argument(parser)
    parser.add_argument("--profile", default=None, help="the Instagram account the pieces are posted on")
    parser.add_argument("--session-file", default=None,
                        help="instaloader session file (make one with `instaloader --login YOUR_USER`)")
    parser.add_argument("--login", default=None, help="the user the session file belongs to (default --profile)")
    parser.add_argument("--max-posts", type=int, default=None, help="read at most this many posts, newest first")
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds between posts (be polite; default 2)")
    parser.add_argument("--skip-recent-hours", type=float, default=12.0,
                        help="skip posts read within this many hours (resume; default 12)")
    parser.add_argument("--comments", type=int, default=0,
                        help="also store up to this many comment texts per post (needs a login; default 0)")
    parser.add_argument("--min-caption-ratio", type=float, default=0.9,
                        help="how alike a caption must be to an exported one to match (0-1, default 0.9)")
    parser.add_argument("--from-json", default=None,
                        help="read posts saved as instaloader JSON (a file or a folder) instead of Instagram")
    parser.add_argument("--export-ratings", metavar="CSV", default=None,
                        help="write the audience's ratings (1-10 by engagement rank) as a scorer ratings file, for "
                             "`dstrtd train scorer --data CSV`; alone, without reading posts first")
    parser.add_argument("--comment-weight", type=float, default=None,
                        help="a comment counts as this many likes in the ratings (default 3)")
    parser.add_argument("--min-age-days", type=float, default=None,
                        help="leave out of the ratings posts read younger than this (default 3: counts still climb)")


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.engagement.errors import EngagementError
    from installation.engagement.readback import read_engagement
    from installation.engagement.sources import InstaloaderSource, JsonPostSource

    if args.from_json:
        source = JsonPostSource(args.from_json)
    elif args.profile:
        source = InstaloaderSource(args.profile, session_file=args.session_file, login=args.login)
    elif args.export_ratings:
        return _export_ratings(open_studio(args.studio), args)
    else:
        raise EngagementError("give --profile NAME (or --from-json PATH for saved posts, or --export-ratings CSV)")
    if args.max_posts is not None and args.max_posts < 1:
        raise EngagementError("--max-posts must be at least 1")
    studio = open_studio(args.studio)
    studio.sync_themes()  # why: posts are matched to pieces by their theme's caption
    with studio.catalog() as catalog:
        report = read_engagement(catalog, source, max_posts=args.max_posts, skip_recent_hours=args.skip_recent_hours,
                                 sleep_s=args.sleep, comments=args.comments, min_caption_ratio=args.min_caption_ratio)
    print(report.summary())
    for code, slugs in report.ambiguous.items():
        print(f"  {code} matches {', '.join(slugs)} by caption: record it with "
              f"`dstrtd export mark-published SLUG {code}`")
    for code, why in report.failed.items():
        print(f"  {code}: {why}", file=sys.stderr)
    if report.error:
        print(f"stopped early: {report.error}", file=sys.stderr)
        return 1
    return _export_ratings(studio, args) if args.export_ratings else 0


def _export_ratings(studio: Any, args: argparse.Namespace) -> int:
    from installation.engagement.audience import COMMENT_WEIGHT, MIN_AGE_DAYS, audience_ratings, write_ratings_csv

    with studio.catalog(readonly=True) as catalog:
        report = audience_ratings(
            catalog, comment_weight=COMMENT_WEIGHT if args.comment_weight is None else args.comment_weight,
            min_age_days=MIN_AGE_DAYS if args.min_age_days is None else args.min_age_days)
    print(report.summary())
    path = write_ratings_csv(args.export_ratings, report.ratings)
    for r in report.ratings[:3]:
        print(f"  {r.score:5.2f}  {r.slug}  ({r.likes} likes, {r.comments} comments, {r.posts} post(s))")
    print(f"wrote {len(report.ratings)} audience ratings to {path}; train on them with "
          f"`dstrtd train scorer --data {path} --out runs/audience`")
    return 0
