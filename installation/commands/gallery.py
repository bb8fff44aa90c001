"""`dstrtd gallery`: the fullscreen display of the accepted and featured pieces. Imports no torch, ever.

Every option is a field of `GalleryConfig` (same name, default, choices and help), derived by `add_config_options`.
"""

from __future__ import annotations

import argparse

from installation.commands._common import add_studio_argument
from installation.commands._options import add_config_options
from installation.commands._options import config_from_args as _config_from_args

# --help in sections: field name -> section title
SECTIONS = {
    "showing": ("hold", "transition", "crossfade", "ken_burns", "ken_burns_zoom", "fit", "background", "order",
                "score_curator", "score_temperature", "new_first", "seed", "retry_failed"),
    "overlays": ("title", "reflection", "qr", "qr_corner", "base_url", "screen_inches", "scan_distance", "font"),
    "screen and schedule": ("display", "windowed", "hours", "fps", "idle_fps", "poll", "max_pixels", "state"),
    "stopping (tests, benchmarks, soak runs)": ("seconds", "frames", "screenshot"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from installation.gallery.config import GalleryConfig

    add_studio_argument(parser)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for title, names in SECTIONS.items():
        groups.update(dict.fromkeys(names, parser.add_argument_group(title)))
    add_config_options(parser, GalleryConfig, groups=groups)


def config_from_args(args: argparse.Namespace):  # -> GalleryConfig (imported lazily)
    from installation.gallery.config import GalleryConfig

    return _config_from_args(GalleryConfig, args)


def run(args: argparse.Namespace) -> int:
    from curation.studio import open_studio
    from installation.gallery.app import GalleryApp

    return GalleryApp(open_studio(args.studio, args.catalog), config_from_args(args)).run()
