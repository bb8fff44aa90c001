"""`dstrtd init DIR`: make a studio folder."""

from __future__ import annotations

import argparse

from installation.commands._common import add_catalog_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("studio", help="folder to make (kept as is where it already exists)")
    add_catalog_argument(parser)


def run(args: argparse.Namespace) -> int:
    from curation.studio import catalog_url, init_studio

    studio = init_studio(args.studio, catalog=catalog_url(args.catalog))
    print(f"studio ready: {studio.root}")
    print(f"  catalog  {studio.catalog_name}")
    if studio.themes_path.is_file():
        themes = studio.load_themes()
        print(f"  themes   {studio.themes_path} ({len(themes)}: {', '.join(t.name for t in themes)})")
    else:
        with studio.catalog(readonly=True) as cat:
            names = [t.name for t in cat.list_themes() if t.prompts]
        print(f"  themes   from the catalog ({len(names)}: {', '.join(names)}); edit them in themes.toml on the "
              "machine that holds it")
    print(f"  pieces   {studio.pieces_dir}")
    print(f"  exports  {studio.exports_dir}")
    return 0
