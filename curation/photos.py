"""Photographs among the pieces: images imported with `dstrtd curate --images` are someone's photographs, not AI art,
and the public reads them as such, with the photographer credited.

The representation, in a piece's settings: `{"kind": "photo", "credit": "<photographer>", "licence": "<licence>"}`
(`photo_settings`), read back by `piece_photo` (a piece imported before this, with only `imported_from`, is a
photograph whose photographer is not known). `curation.public.public_view` carries it to every surface: the piece's
page and alt text, the social caption and alt text, the gallery's panel.

Where the credit comes from when a folder is imported (`PhotoCredits`): a `manifest.csv` beside the images (columns
`file`, `author` and `licence` or `license`, as a folder of freely licensed photos usually has), else a file name
such as "Dragonfly_by_Bolly.jpg" ("<title> by <name>"), else what the artist gave (`--credit`, `--licence`).
Standard library only: the gallery machine reads it.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PHOTO_KIND = "photo"
MANIFEST = "manifest.csv"
CREDIT_CHARS = 120  # why: a name or two with a studio; a longer field is a paste gone wrong
_AUTHOR_COLUMNS = ("author", "photographer", "credit", "creator", "artist")
_LICENCE_COLUMNS = ("licence", "license")
_BY = re.compile(r"^(?P<title>.+?)\s+by\s+(?P<name>\S.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Photo:
    """A photograph shown among the pieces, and whom to credit."""

    credit: str  # the photographer as credited; "" when no one knows
    licence: str = ""

    @property
    def byline(self) -> str:
        """'Photograph by Risto Saukonpää (LGPLv3)', or 'Photograph (photographer unknown)'."""
        who = f"by {self.credit}" if self.credit else "(photographer unknown)"
        return f"Photograph {who}" + (f" ({self.licence})" if self.licence else "")


def photo_settings(credit: str, licence: str = "") -> dict[str, str]:
    """The settings that mark a piece as a photograph by `credit` under `licence`."""
    return {"kind": PHOTO_KIND, "credit": _one_line(credit), "licence": _one_line(licence)}


def piece_photo(settings: Mapping[str, Any]) -> Photo | None:
    """The photograph a piece's settings describe, or None for a piece the computer made."""
    if settings.get("kind") == PHOTO_KIND:
        return Photo(_one_line(str(settings.get("credit") or "")), _one_line(str(settings.get("licence") or "")))
    if settings.get("imported_from"):  # imported before photographs were recorded as such
        return Photo("")
    return None


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CREDIT_CHARS else text[: CREDIT_CHARS - 1].rstrip() + "…"


def split_byline(words: str) -> tuple[str, str]:
    """'Dragonfly by Bolly' -> ('Dragonfly', 'Bolly'); words without ' by ' -> (words, '')."""
    m = _BY.match(words.strip())
    return (m.group("title").strip(), m.group("name").strip()) if m else (words.strip(), "")


class PhotoCredits:
    """Who took each photograph of one imported folder: its manifest, else the file name, else `credit`."""

    def __init__(self, folder: str | Path, *, credit: str | None = None, licence: str | None = None) -> None:
        self.folder = Path(folder)
        self.credit, self.licence = credit or "", licence or ""
        self.manifest = self._read_manifest()

    def _read_manifest(self) -> dict[str, tuple[str, str]]:
        path = self.folder / MANIFEST
        if not path.is_file():
            return {}
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            log.warning("%s not read (%s); credits come from the file names or --credit", path, exc)
            return {}
        out = {}
        for row in rows:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            author = next((row[c] for c in _AUTHOR_COLUMNS if row.get(c)), "")
            licence = next((row[c] for c in _LICENCE_COLUMNS if row.get(c)), "")
            if row.get("file") and (author or licence):
                out[Path(row["file"]).name] = (author, licence)
        return out

    def settings(self, path: Path, words: str) -> tuple[dict[str, str], str]:
        """(the photograph's settings, its title words) for the image at `path`, whose file name reads `words`."""
        title, by = split_byline(words)
        author, licence = self.manifest.get(path.name, ("", ""))
        credit = author or by or self.credit
        return photo_settings(credit, licence or self.licence), title if by else words
