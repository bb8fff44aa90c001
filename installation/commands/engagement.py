"""`dstrtd engagement`: read likes and comments of the published Instagram posts back into the catalog."""

from __future__ import annotations

import argparse
import sys

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


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.export.engagement import InstaloaderSource, JsonPostSource, read_engagement
    from installation.export.errors import EngagementError

    if args.from_json:
        source = JsonPostSource(args.from_json)
    elif args.profile:
        source = InstaloaderSource(args.profile, session_file=args.session_file, login=args.login)
    else:
        raise EngagementError("give --profile NAME (or --from-json PATH for saved posts)")
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
    return 0
