"""`dstrtd engagement`: read likes and comments of the published Instagram posts back into the catalog, and turn them
into the audience's ratings for the aesthetic scorer (`--export-ratings`).

The reading and rating options are derived from `ReadbackConfig` and `RatingsConfig` (same names, defaults, help)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from installation.commands._common import add_studio_argument
from installation.commands._options import add_config_options, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from installation.engagement.config import RatingsConfig, ReadbackConfig

    add_studio_argument(parser)
    source = parser.add_argument_group("where the posts come from")
    source.add_argument("--profile", default=None, help="the Instagram account the pieces are posted on")
    source.add_argument("--session-file", default=None,
                        help="instaloader session file (make one with `instaloader --login YOUR_USER`)")
    source.add_argument("--login", default=None, help="the user the session file belongs to (default: --profile)")
    source.add_argument("--from-json", default=None,
                        help="read posts saved as instaloader JSON (a file or a folder) instead of Instagram")
    add_config_options(parser.add_argument_group("reading"), ReadbackConfig)
    ratings = parser.add_argument_group("the audience's ratings")
    ratings.add_argument("--export-ratings", metavar="CSV", default=None,
                         help="write the audience's ratings (1-10 by engagement rank) as a scorer ratings file, for "
                              "`dstrtd train scorer --data CSV`; alone, without reading posts first")
    add_config_options(ratings, RatingsConfig)


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.engagement.config import ReadbackConfig
    from installation.engagement.errors import EngagementError
    from installation.engagement.readback import read_engagement
    from installation.engagement.sources import InstaloaderSource, JsonPostSource

    if args.from_json:
        source = JsonPostSource(args.from_json)
    elif args.profile:
        source = InstaloaderSource(args.profile, session_file=args.session_file, login=args.login)
    elif args.export_ratings:
        return _export_ratings(open_studio(args.studio, args.catalog), args)
    else:
        raise EngagementError("give --profile NAME (or --from-json PATH for saved posts, or --export-ratings CSV)")
    config = config_from_args(ReadbackConfig, args)
    studio = open_studio(args.studio, args.catalog)
    studio.sync_themes()  # why: posts are matched to pieces by their theme's caption
    with studio.catalog() as catalog:
        report = read_engagement(catalog, source, config)
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
    from installation.engagement.audience import audience_ratings, write_ratings_csv
    from installation.engagement.config import RatingsConfig

    with studio.catalog(readonly=True) as catalog:
        report = audience_ratings(catalog, config_from_args(RatingsConfig, args))
    print(report.summary())
    path = write_ratings_csv(args.export_ratings, report.ratings)
    for r in report.ratings[:3]:
        print(f"  {r.score:5.2f}  {r.slug}  ({r.likes} likes, {r.comments} comments, {r.posts} post(s))")
    print(f"wrote {len(report.ratings)} audience ratings to {path}; train on them with "
          f"`dstrtd train scorer --data {path} --out runs/audience`")
    return 0
