"""A studio is a folder: `catalog.sqlite`, `pieces/`, `exports/`, `themes.toml`. Standard library only.

Find it with `--studio DIR`, else the `DSTRTD_STUDIO` environment variable, else the current folder. Its catalog is
`catalog.sqlite` in it, or a PostgreSQL server that several machines share: `--catalog postgresql://...`, else the
`DSTRTD_CATALOG_URL` environment variable. With a server, the folder holds this machine's copies of the pieces'
files, its exports and work folders, and (on the artist's machine) `themes.toml`.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from curation.catalog import Catalog, CatalogError, Theme, control_characters
from curation.catalog.database import is_url, redact
from generator.common.errors import PromptError
from generator.common.files import read_text, write_text_atomic
from generator.common.prompts import parse_prompts

log = logging.getLogger(__name__)

ENV_VAR = "DSTRTD_STUDIO"
CATALOG_ENV = "DSTRTD_CATALOG_URL"
CATALOG_NAME = "catalog.sqlite"
THEMES_NAME = "themes.toml"

# The artist's post format (seed 004): an opening line, the ecosystem's facts, the series line, the question.
DEFAULT_THEMES_TOML = '''\
# DSTRTD themes: one [[theme]] table each. Prompts use `text:weight` (negative weights push away).
# `reflection` is the short text shown on the piece's page and under the gallery image; `facts` are the ecosystem
# facts of the social post; at most 5 hashtags per post (Instagram's limit).

[[theme]]
name = "coral-reef"
title = "Coral reef"
prompts = ["a coral reef:1", "a coral reef, digital distortion, glitch art:0.6"]
negative_prompts = ["text, watermark:-0.5"]
reflection = "This is what a coral reef looks like for a computer. Is your perception distorted?"
facts = """Coral reefs support more species than any other marine environment, they clean the ocean from carbon \
dioxide, protect coastlines from storms and erosion, and over half a billion people depend on them for food, \
income, and protection. Unfortunately, because of climate change, more than half of all coral reefs have been \
lost, and the rest are experiencing rapid extinction."""
hashtags = ["#DSTRTD", "#coralreef", "#climatechange", "#aiart", "#sciencecommunication"]

[[theme]]
name = "old-growth-forest"
title = "Old-growth forest"
prompts = ["a forest of old trees:1", "old-growth tree, pixelated, digital distortion:0.6"]
negative_prompts = ["text, watermark:-0.5"]
reflection = "A forest that took centuries to grow, seen through a screen in seconds."
facts = """Old-growth forests store more carbon than any other land ecosystem and shelter species found nowhere \
else. Once cut, they take centuries to return, and most of the world's primary forest has already been lost or \
degraded."""
hashtags = ["#DSTRTD", "#oldgrowth", "#forests", "#climatechange", "#aiart"]

[[theme]]
name = "glacier"
title = "Glacier"
prompts = ["a glacier under a blue sky:1", "melting glacier, datamosh, digital distortion:0.6"]
negative_prompts = ["text, watermark:-0.5"]
reflection = "Ice that remembers thousands of winters, rendered by a machine that remembers none."
facts = """Glaciers hold most of the planet's fresh water and feed rivers that billions of people rely on. \
They are retreating almost everywhere on Earth, and their loss raises sea levels and threatens water supplies."""
hashtags = ["#DSTRTD", "#glacier", "#climatechange", "#aiart", "#sciencecommunication"]

[[theme]]
name = "wetland"
title = "Wetland"
prompts = ["a misty wetland with reeds and birds:1", "wetland, scanline glitch, digital distortion:0.6"]
negative_prompts = ["text, watermark:-0.5"]
reflection = "Wetlands breathe slowly; screens refresh sixty times a second."
facts = """Wetlands filter water, buffer floods and store vast amounts of carbon in their soils. Over a third of \
the world's wetlands have disappeared since 1970, faster than forests."""
hashtags = ["#DSTRTD", "#wetlands", "#biodiversity", "#climatechange", "#aiart"]
'''


class StudioError(CatalogError):
    """A studio folder that is missing or malformed; the message says how to fix it."""


@dataclass(frozen=True)
class Studio:
    root: Path
    catalog_url: str | None = field(default=None, repr=False)  # a postgresql:// URL (may hold a password)

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog's file (unused when the catalog is on a server)."""
        return self.root / CATALOG_NAME

    @property
    def catalog_location(self) -> str | Path:
        """What `Catalog` opens: the server's URL, else the SQLite file."""
        return self.catalog_url or self.catalog_path

    @property
    def catalog_name(self) -> str:
        """The catalog for messages: the file, or the URL without its password."""
        return redact(self.catalog_url) if self.catalog_url else str(self.catalog_path)

    @property
    def pieces_dir(self) -> Path:
        return self.root / "pieces"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def themes_path(self) -> Path:
        return self.root / THEMES_NAME

    @property
    def tmp_dir(self) -> Path:
        """Where a worker writes a piece's files before they are whole (removed after an hour when left behind)."""
        return self.root / "cache" / "tmp"

    @property
    def pending_dir(self) -> Path:
        """Finished pieces waiting to be stored (the catalog was busy or unreachable); the next worker stores them."""
        return self.root / "cache" / "pending"

    def leftovers(self) -> list[str]:
        """What killed or stopped workers left in this studio folder: temporary folders (with their age) and
        finished pieces still waiting to be stored."""
        from curation.catalog.pieces import temp_folders

        out = temp_folders(self.root, "cache/tmp", "*", "a worker's piece being written")
        out += [f"finished piece cache/pending/{p.name} waits to be stored (the catalog was busy or unreachable, or "
                "its worker stopped); `dstrtd studio` stores it at start" for p in sorted(self.pending_dir.glob("*"))]
        return out

    def catalog(self, readonly: bool = False, *, timeout: float = 30.0) -> Catalog:
        """Open the studio's catalog (the caller closes it)."""
        return Catalog(self.catalog_location, root=self.root, readonly=readonly, timeout=timeout)

    def load_themes(self) -> list[Theme]:
        """Parse `themes.toml`; errors name the file, the theme and the field."""
        if not self.themes_path.is_file():
            return []
        try:
            data = tomllib.loads(read_text(self.themes_path, "themes file", StudioError))
        except tomllib.TOMLDecodeError as exc:
            raise StudioError(f"{self.themes_path}: not valid TOML ({exc})") from exc
        except OSError as exc:
            raise StudioError(f"{self.themes_path}: cannot be read ({exc.strerror or exc})") from exc
        if "theme" not in data:
            # why: an emptied or truncated file would otherwise retire every theme without a word
            raise StudioError(f"{self.themes_path} defines no theme (no [[theme]] table); add your themes again, or "
                              "write `theme = []` in it to retire every theme on purpose")
        if not isinstance(data["theme"], list):
            raise StudioError(f"{self.themes_path}: `theme` must be [[theme]] tables (or `theme = []` for none)")
        themes: list[Theme] = []
        for i, entry in enumerate(data["theme"]):
            where = f"{self.themes_path}: theme #{i + 1}"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
                raise StudioError(f"{where} needs a `name` (text)")
            for key in ("prompts", "negative_prompts", "hashtags"):
                value = entry.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise StudioError(f"{where} ({entry['name']}): `{key}` must be a list of strings")
            for key in ("reflection", "facts", "title"):
                if not isinstance(entry.get(key, ""), str):
                    raise StudioError(f"{where} ({entry['name']}): `{key}` must be text")
            for key in ("name", "title", "reflection", "facts", "prompts", "negative_prompts", "hashtags"):
                value = entry.get(key, "")
                bad = control_characters("".join(value) if isinstance(value, list) else value, allow="\n\t")
                if bad:
                    raise StudioError(f"{where} ({entry['name']}): `{key}` holds control characters "
                                      f"{', '.join(bad)}; the display and the pages show plain text")
            for key in ("prompts", "negative_prompts"):
                for spec in entry.get(key, []):
                    try:
                        parse_prompts(spec)
                    except PromptError as exc:
                        raise StudioError(f"{where} ({entry['name']}): `{key}`: {exc}") from None
            if any(t.name == entry["name"].strip() for t in themes):
                raise StudioError(f"{where}: a second theme named {entry['name'].strip()!r}; names must differ")
            themes.append(Theme(
                name=entry["name"].strip(), title=entry.get("title", "") or entry["name"].strip(),
                prompts=tuple(entry.get("prompts", [])), negative_prompts=tuple(entry.get("negative_prompts", [])),
                reflection=entry.get("reflection", "").strip(), facts=" ".join(entry.get("facts", "").split()),
                hashtags=tuple(entry.get("hashtags", [])),
            ))
        return themes

    def sync_themes(self) -> list[str]:
        """Copy the themes of `themes.toml` into the catalog where they differ (the file is the artist's source of
        truth); returns the names written. A theme gone from the file (removed or renamed) is retired: it stays in
        the catalog for its pieces' pages, with no prompts, so nothing samples or queues it any more.

        Raises `StudioError` (naming the file, theme and field) when the file cannot be read as themes.
        """
        if not self.themes_path.is_file():
            return []  # why: no file is no instruction; retiring every theme would stop the studio
        themes = self.load_themes()
        names = {t.name for t in themes}
        changed = []
        with self.catalog() as cat:
            for theme in themes:
                if cat.get_theme(theme.name) != theme:
                    cat.upsert_theme(theme)
                    changed.append(theme.name)
            for old in cat.list_themes():
                if old.name not in names and (old.prompts or old.negative_prompts):
                    cat.upsert_theme(replace(old, prompts=(), negative_prompts=()))
                    changed.append(old.name)
        if changed:
            log.info("themes from %s: %s updated in the catalog", self.themes_path.name, ", ".join(changed))
        return changed

    def themes_stamp(self) -> tuple[int, int] | None:
        """(mtime_ns, size) of `themes.toml`, or None without one: cheap to poll for edits."""
        try:
            st = self.themes_path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size


def catalog_url(explicit: str | None = None) -> str | None:
    """The catalog server's URL: `explicit` (--catalog), else $DSTRTD_CATALOG_URL, else None (the studio's SQLite)."""
    url = explicit or os.environ.get(CATALOG_ENV) or None
    if url is not None and not is_url(url):
        raise StudioError(f"--catalog / ${CATALOG_ENV} takes a postgresql:// URL (e.g. postgresql://dstrtd@host/dstrtd)"
                          f", not {url!r}; a studio's own catalog is its {CATALOG_NAME}, found with --studio")
    return url


def init_studio(path: str | os.PathLike[str], *, themes_toml: str | None = None, catalog: str | None = None
                ) -> Studio:
    """Make (or complete) a studio folder; an existing catalog and themes file are kept as they are. With `catalog`
    (a server's URL) the catalog is that one, made or brought up to date; when it holds themes already (another
    machine's), this folder gets no default themes.toml: the themes stay where the artist edits them."""
    studio = Studio(Path(path).resolve(), catalog_url=catalog)
    if studio.root.exists() and not studio.root.is_dir():
        raise StudioError(f"{studio.root} exists and is not a folder")
    studio.pieces_dir.mkdir(parents=True, exist_ok=True)
    studio.exports_dir.mkdir(parents=True, exist_ok=True)
    with studio.catalog() as cat:
        shared = catalog is not None and bool(cat.list_themes())
    if not studio.themes_path.exists() and not shared:
        write_text_atomic(studio.themes_path, themes_toml if themes_toml is not None else DEFAULT_THEMES_TOML)
    studio.sync_themes()
    log.info("studio ready at %s (catalog %s)", studio.root, studio.catalog_name)
    return studio


def open_studio(path: str | os.PathLike[str] | None = None, catalog: str | None = None) -> Studio:
    """The studio at `path`, else $DSTRTD_STUDIO, else the current folder; it must have been made with init. Its
    catalog: `catalog` (a server's URL), else $DSTRTD_CATALOG_URL, else the folder's catalog.sqlite."""
    chosen = path or os.environ.get(ENV_VAR) or "."
    studio = Studio(Path(chosen).resolve(), catalog_url=catalog_url(catalog))
    if studio.catalog_url is not None:
        if not studio.root.is_dir():
            raise StudioError(f"no studio folder at {studio.root} for the catalog {studio.catalog_name}; make it with "
                              f"`dstrtd init {chosen} --catalog URL`")
    elif not studio.catalog_path.is_file():
        raise StudioError(
            f"no studio at {studio.root} (no {CATALOG_NAME}); make one with `dstrtd init {chosen}` "
            f"or point --studio / ${ENV_VAR} at an existing one (or --catalog / ${CATALOG_ENV} at a catalog server)")
    return studio

