"""Options and helpers shared by subcommands (no heavy imports)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_studio_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--studio", default=None,
                        help="studio folder (default: $DSTRTD_STUDIO, else the current folder)")
    add_catalog_argument(parser)


def add_catalog_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--catalog", default=default, metavar="URL",
                        help="the studio's catalog on a PostgreSQL server shared by several machines, e.g. "
                             "postgresql://dstrtd@host/dstrtd (default: $DSTRTD_CATALOG_URL, else the studio's own "
                             "catalog.sqlite)")


class RunLogFile:
    """INFO and up from every logger into `path` while a run lasts, leaving the console as the CLI set it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        self.handler.setLevel(logging.INFO)
        self.root = logging.getLogger()
        self.level = self.root.level
        self.pinned = [h for h in self.root.handlers if h.level == logging.NOTSET]
        for h in self.pinned:
            h.setLevel(self.level)
        self.root.addHandler(self.handler)
        self.root.setLevel(min(self.level or logging.WARNING, logging.INFO))

    def close(self) -> None:
        self.root.removeHandler(self.handler)
        self.handler.close()
        self.root.setLevel(self.level)
        for h in self.pinned:
            h.setLevel(logging.NOTSET)
