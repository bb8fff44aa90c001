"""Options and helpers shared by subcommands (no heavy imports)."""

from __future__ import annotations

import argparse


def add_studio_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--studio", default=None,
                        help="studio folder (default: $DSTRTD_STUDIO, else the current folder)")
