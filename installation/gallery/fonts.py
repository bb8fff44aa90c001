"""Which font the gallery's text uses: `--font FILE`, else the first face of `FACES` installed here, else pygame's own.

No font ships with DSTRTD and none is downloaded. The faces below are freely licensed or come with the system, and at
least one is on every machine we expect: DejaVu Sans on Debian, Ubuntu and Raspberry Pi OS (`fonts-dejavu-core`,
installed with almost any desktop), Noto Sans on newer desktops, Liberation Sans beside LibreOffice, Helvetica and
Arial on macOS, Segoe UI and Arial on Windows. Faces are found by their file names in the usual font folders (fast,
no subprocess); only when none is there is fontconfig asked (`pygame.font.match_font`, which runs `fc-list` once);
pygame's bundled freesansbold is the last resort (bold only, uneven letter spacing at small sizes).

Titles use the face's bold file where it has one; the reflection uses the regular one. `--font FILE` sets both.
Nothing here imports pygame: the caller passes what needs it (`match`, `loads`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from installation.gallery.config import GalleryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    name: str
    regular: tuple[str, ...]  # file names, the first one found wins
    bold: tuple[str, ...] = ()  # for titles; none found: titles use the regular file
    family: str = ""  # fontconfig's family, as pygame.font.match_font spells it (lower case, no spaces)


# Order: faces drawn for screens and reading first; why DejaVu before Liberation: larger x-height and hinting made
# for small sizes, so it reads better at 2 m than Liberation's Arial metrics.
FACES: tuple[Face, ...] = (
    Face("Inter", ("Inter-Regular.otf", "Inter-Regular.ttf", "InterVariable.ttf", "Inter.ttf"),
         ("Inter-SemiBold.otf", "Inter-SemiBold.ttf", "Inter-Bold.otf", "Inter-Bold.ttf"), "inter"),
    Face("Noto Sans", ("NotoSans-Regular.ttf", "NotoSans-Regular.otf"),
         ("NotoSans-SemiBold.ttf", "NotoSans-Bold.ttf", "NotoSans-Bold.otf"), "notosans"),
    Face("DejaVu Sans", ("DejaVuSans.ttf",), ("DejaVuSans-Bold.ttf",), "dejavusans"),
    Face("Liberation Sans", ("LiberationSans-Regular.ttf",), ("LiberationSans-Bold.ttf",), "liberationsans"),
    Face("Helvetica Neue", ("HelveticaNeue.ttc",), (), "helveticaneue"),  # macOS; .ttc: its first face, regular
    Face("Helvetica", ("Helvetica.ttc",), (), "helvetica"),
    Face("Segoe UI", ("segoeui.ttf",), ("seguisb.ttf", "segoeuib.ttf"), "segoeui"),
    Face("Arial", ("Arial.ttf", "arial.ttf"), ("Arial Bold.ttf", "arialbd.ttf"), "arial"),
)

BUNDLED = "pygame's bundled freesansbold"


@dataclass(frozen=True)
class FontChoice:
    name: str
    regular: str | None  # file for the reflection; None: pygame's bundled font
    bold: str | None  # file for titles; None: pygame's bundled font
    source: str  # "--font", "installed", "fontconfig" or "bundled"

    def describe(self) -> str:
        """One line for the log, so the technician knows which font is on screen and how to change it."""
        if self.source == "bundled":
            names = ", ".join(f.name for f in FACES)
            return (f"font: {BUNDLED} (none of {names} is installed; apt-get install fonts-dejavu-core, "
                    "or --font FILE)")
        files = self.regular if self.bold == self.regular else f"{self.regular}, titles {self.bold}"
        how = {"--font": "from --font", "installed": "first installed of the preferred faces",
               "fontconfig": "found by fontconfig"}[self.source]
        return f"font: {self.name} ({how}: {files})"


def font_dirs() -> list[Path]:
    """The usual font folders of Linux, macOS and Windows that exist here (user folders first)."""
    home = Path.home()
    dirs = [home / ".local/share/fonts", home / ".fonts", Path("/usr/local/share/fonts"), Path("/usr/share/fonts")]
    if sys.platform == "darwin":
        dirs = [home / "Library/Fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"),
                Path("/System/Library/Fonts/Supplemental")]
    elif sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        dirs = ([Path(local) / "Microsoft/Windows/Fonts"] if local else []) + [
            Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts"]
    return [d for d in dirs if d.is_dir()]


def index_files(dirs: Iterable[Path]) -> dict[str, str]:
    """File name -> path of every file under `dirs` (the first folder that has a name wins)."""
    found: dict[str, str] = {}
    for top in dirs:
        for root, _, files in os.walk(top, onerror=lambda exc: None):
            for name in files:
                found.setdefault(name, os.path.join(root, name))
    return found


def choose_font(font: str | None, *, dirs: Sequence[Path] | None = None, faces: Sequence[Face] = FACES,
                match: Callable[[str], str | None] | None = None,
                loads: Callable[[str], bool] = lambda path: True) -> FontChoice:
    """The font for the gallery's text.

    `font` (`--font FILE`) wins and must exist and load, else `GalleryError`. Otherwise the first of `faces` whose
    regular file is in `dirs` (default `font_dirs()`) and `loads`, then the first `match(family)` answers (fontconfig),
    then pygame's bundled font. `loads(path)` says whether pygame can read the file.
    """
    if font:
        path = Path(font).expanduser()
        if not path.is_file():
            problem = "is a folder" if path.is_dir() else "does not exist"
            raise GalleryError(f"font file {font} {problem}; give a .ttf/.otf file, or leave --font out to use "
                               f"the first installed of {', '.join(f.name for f in faces)}")
        if not loads(str(path)):
            raise GalleryError(f"font file {font} is not a font pygame can read; give a .ttf/.otf file")
        return FontChoice(path.stem, str(path), str(path), "--font")
    files = index_files(font_dirs() if dirs is None else dirs)
    for face in faces:
        regular = next((files[n] for n in face.regular if n in files), None)
        if regular is None:
            continue
        if not loads(regular):
            log.debug("font %s at %s does not load; trying the next face", face.name, regular)
            continue
        bold = next((files[n] for n in face.bold if n in files and loads(files[n])), regular)
        return FontChoice(face.name, regular, bold, "installed")
    if match is not None:
        for face in faces:
            path = match(face.family) if face.family else None
            if path and loads(path):
                return FontChoice(face.name, path, path, "fontconfig")
    return FontChoice(BUNDLED, None, None, "bundled")
