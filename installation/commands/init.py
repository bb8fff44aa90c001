"""`dstrtd init DIR`: make a studio folder."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("studio", help="folder to make (kept as is where it already exists)")


def run(args: argparse.Namespace) -> int:
    from curation.studio import init_studio

    studio = init_studio(args.studio)
    themes = studio.load_themes()
    print(f"studio ready: {studio.root}")
    print(f"  catalog  {studio.catalog_path}")
    print(f"  themes   {studio.themes_path} ({len(themes)}: {', '.join(t.name for t in themes)})")
    print(f"  pieces   {studio.pieces_dir}")
    print(f"  exports  {studio.exports_dir}")
    return 0
