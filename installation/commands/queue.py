"""`dstrtd queue "a coral reef:1" [--theme coral-reef]`: queue prompts for the studio worker."""

from __future__ import annotations

import argparse

from installation.commands._common import add_studio_argument
from installation.commands.studio import add_generator_overrides, generator_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from installation.job_settings import PRIORITY_MAX, PRIORITY_MIN

    add_studio_argument(parser)
    parser.add_argument("prompts", nargs="*", metavar="PROMPT",
                        help="'text:weight' prompts of one piece (default: the theme's prompts)")
    parser.add_argument("--theme", default=None, help="theme the piece belongs to (see themes.toml)")
    parser.add_argument("--count", type=int, default=1, help="queue N jobs (each gets its own seed)")
    parser.add_argument("--seed", type=int, default=None, help="seed (with --count, seeds seed, seed+1, ...)")
    parser.add_argument("--priority", type=int, default=0,
                        help=f"higher runs first, {PRIORITY_MIN} to {PRIORITY_MAX} (default: 0)")
    parser.add_argument("--preset", default=None, help="generator preset of this job (default: the worker's)")
    add_generator_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.errors import CommandError
    from installation.job_settings import check_job

    if args.count < 1:
        raise CommandError("--count must be at least 1")
    studio = open_studio(args.studio, args.catalog)
    studio.sync_themes()  # why: the artist edits themes.toml; a queued theme takes its current prompts
    settings = generator_overrides(args)
    if args.preset:
        settings["preset"] = args.preset
    with studio.catalog() as cat:
        prompts = list(args.prompts)
        if not prompts:
            if not args.theme:
                raise CommandError("give a prompt ('a coral reef:1') or a --theme whose prompts to use")
            theme = cat.require_theme(args.theme)
            if not theme.prompts:
                raise CommandError(f"theme {args.theme!r} has no prompts: it was retired, being gone from "
                                   f"{studio.themes_path.name}; add it back there, or give prompts")
            prompts = [*theme.prompts, *theme.negative_prompts]
        prompt = " | ".join(p.strip() for p in prompts if p.strip())
        settings = check_job(prompt, settings, priority=args.priority, studio=studio.root)  # as the web checks it
        ids = []
        for i in range(args.count):
            job_settings = dict(settings)
            if args.seed is not None:
                job_settings["seed"] = args.seed + i
            ids.append(cat.enqueue(prompt, theme=args.theme, settings=job_settings, priority=args.priority))
        waiting = len(cat.list_jobs("queued"))
    print(f"queued job{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}: {prompt}"
          f"{f' (theme {args.theme})' if args.theme else ''}; {waiting} waiting in {studio.root}")
    return 0
