"""`dstrtd demo --out DIR`: the whole path offline on the tiny preset, in about half a minute."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-out", help="folder for the demo studio (new, empty, or an earlier demo)")
    parser.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or cuda:N")
    parser.add_argument("--frames", type=int, default=3, help="gallery frames to render (0: none)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: the tiny models gain nothing from more; 0: torch's choice)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="how many of the demo's themed jobs to run (default all)")


def run(args: argparse.Namespace) -> int:
    from installation.demo import DEMO_JOBS, describe, run_demo
    from installation.errors import CommandError

    if args.jobs is not None and not 1 <= args.jobs <= len(DEMO_JOBS):
        raise CommandError(f"--jobs must be between 1 and {len(DEMO_JOBS)}")
    report = run_demo(args.out, jobs=DEMO_JOBS[:args.jobs], device=args.device, gallery_frames=args.frames,
                      threads=args.threads or None)
    print()
    print(describe(report))
    return 0
