"""How posters, social posts and contact sheets are made: one frozen dataclass each, light to import.

`dstrtd export` derives its options from these fields (same names, defaults, choices and help), so `--help` cannot
drift from what the exporters do. Lengths are in millimetres, resolutions in dots per inch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from curation.public import BASE_URL_ENV, DEFAULT_BASE_URL, BaseUrlError, checked_base_url
from generator.common.fields import setting
from installation.export.errors import ExportError
from installation.export.paper import NAMED_SIZES_MM, parse_size

Orientation = Literal["portrait", "landscape", "auto"]
PosterLayout = Literal["fit", "fill"]
QrError = Literal["Q", "H"]  # why not L or M: a street poster gets torn and dirty; Q survives 25 % damage
PostFormat = Literal["4:5", "1:1"]
PostFit = Literal["blur", "pad", "crop"]

FORMATS: dict[str, tuple[int, int]] = {"4:5": (1080, 1350), "1:1": (1080, 1080)}  # Instagram's sizes, in px
POSTER_WORKERS = 2  # why: two processes keep a 2-core machine busy without starving the rest
THUMB_MAX = 1024  # contact-sheet thumbnails; why: a sheet is for looking over many pieces, not at one closely
_BASE_URL = f"${BASE_URL_ENV}, else {DEFAULT_BASE_URL}"
_PAPERS = ", ".join(name if name.startswith("A") else name.lower() for name in NAMED_SIZES_MM)


def _check_colour(value: str, what: str) -> None:
    from PIL import ImageColor  # why here: the CLI builds its parser from these classes; Pillow loads when used

    try:
        ImageColor.getrgb(value)
    except ValueError:
        raise ExportError(f"{what} {value!r} is not a colour (try '#ffffff' or 'black')") from None


def _check_base_url(value: str | None) -> None:
    try:
        checked_base_url(value)  # the QR codes' and captions' address: a visitor must be able to open it
    except BaseUrlError as exc:
        raise ExportError(str(exc)) from None


def _check_choice(config: Any, name: str, kind: Any) -> None:
    allowed = get_args(kind)
    if getattr(config, name) not in allowed:
        raise ExportError(f"{name} must be one of {', '.join(allowed)}, not {getattr(config, name)!r}")


@dataclass(frozen=True)
class PosterConfig:
    """How posters are laid out and written (`dstrtd export posters`)."""

    size: str = setting("A3", f"paper: {_PAPERS} or custom like 300x400mm, 30x40cm, 12x18in")
    orientation: Orientation = setting("auto", "auto: landscape for wide artworks only, portrait otherwise")
    dpi: int = setting(300, "print resolution, 72-1200")  # why 300: the usual offset and fine-art inkjet resolution
    layout: PosterLayout = setting("fit", "fit: the whole artwork on a margin; fill: the artwork covers the sheet "
                                          "(cropped)")
    bleed: bool = setting(False, "add a bleed around the trim (see --bleed-mm)")
    bleed_mm: float = setting(3.0, "bleed width in mm, 0-20")  # why 3: what most print shops ask for
    crop_marks: bool = setting(False, "draw crop marks outside the trim (and bleed)")
    margin_mm: float | None = setting(None, "margin in mm", show="6 percent of the short side, at least 10 mm")
    qr_mm: float | None = setting(None, "QR code width without its quiet zone, in mm (at least 25)",
                                  show="12 percent of the short side, at least 25 mm")
    qr_error: QrError = setting("Q", "QR error correction level")
    title: bool = setting(False, "a small title and series line beside the code")
    background: str = setting("#ffffff", "sheet colour")
    upscaler: str = setting("lanczos", "how the artwork is enlarged for print")
    pdf: bool = setting(True, "write the PDF")
    png: bool = setting(True, "write the PNG")
    # why 95: the PDF embeds the page as JPEG; 95 with 4:4:4 chroma is visually lossless
    jpeg_quality: int = setting(95, "JPEG quality of the page inside the PDF, 50-100")
    # why 1: zlib level 1 is ~3x faster than 6 on a 17-megapixel page for ~10 % larger files
    png_level: int = setting(1, "PNG zlib level 0-9 (1: fast)")
    # why 150: below it the artwork's pixels show at arm's length
    min_dpi: float = setting(150.0, "warn when the artwork prints below this dpi")
    base_url: str | None = setting(None, "where the piece pages live", metavar="URL", show=_BASE_URL)
    # why 160 Mpx: A0 at 300 dpi with bleed and crop marks is 146 Mpx, about 440 MB as RGB; the page and its enlarged
    # artwork take about twice that in each worker process. A0 at 600 dpi (583 Mpx) would need some 3.5 GB a worker.
    max_pixels: int = setting(160_000_000, "posters whose page would need more pixels are refused before anything is "
                                           "drawn", metavar="N")

    def __post_init__(self) -> None:
        parse_size(self.size)
        for name, kind in (("orientation", Orientation), ("layout", PosterLayout)):
            _check_choice(self, name, kind)
        if not 72 <= self.dpi <= 1200:
            raise ExportError(f"dpi must be between 72 and 1200, not {self.dpi}")
        if not 0 <= self.bleed_mm <= 20:
            raise ExportError(f"bleed_mm must be between 0 and 20, not {self.bleed_mm}")
        if self.qr_error not in get_args(QrError):
            raise ExportError(f"qr_error must be Q or H (posters get damaged), not {self.qr_error!r}")
        if self.qr_mm is not None and self.qr_mm < 25:
            raise ExportError(f"qr_mm must be at least 25 (a code smaller than 2.5 cm scans badly), not {self.qr_mm}")
        if self.margin_mm is not None and self.margin_mm < 0:
            raise ExportError(f"margin_mm must be >= 0, not {self.margin_mm}")
        if not 50 <= self.jpeg_quality <= 100:
            raise ExportError(f"jpeg_quality must be between 50 and 100, not {self.jpeg_quality}")
        if not 0 <= self.png_level <= 9:
            raise ExportError(f"png_level must be between 0 and 9, not {self.png_level}")
        if not (self.pdf or self.png):
            raise ExportError("nothing to write: enable the PDF, the PNG or both")
        if self.max_pixels < 1:
            raise ExportError(f"max_pixels must be at least 1, not {self.max_pixels}")
        _check_colour(self.background, "background")
        _check_base_url(self.base_url)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SocialConfig:
    """How Instagram posts are made (`dstrtd export social`)."""

    format: PostFormat = setting("4:5", "1080x1350 or 1080x1080 pixels")
    fit: PostFit = setting("blur", "how an artwork of another shape fills the frame: on a blurred copy of itself, "
                                   "on --background, or cropped")
    background: str = setting("#111111", "the frame's colour with --fit pad")
    carousel: bool = setting(False, "add a 'how a computer sees it' slide")
    # why off: the caption is the artist's words; the link also makes captions unique for matching engagement
    link: bool = setting(False, "end the caption with the piece page's URL")
    quality: int = setting(92, "JPEG quality, 50-100")  # why 92: Instagram re-encodes; 92 keeps the glitches' edges
    base_url: str | None = setting(None, "where the piece pages live", metavar="URL", show=_BASE_URL)

    def __post_init__(self) -> None:
        _check_choice(self, "format", PostFormat)
        _check_choice(self, "fit", PostFit)
        if not 50 <= self.quality <= 100:
            raise ExportError(f"quality must be between 50 and 100, not {self.quality}")
        _check_colour(self.background, "background")
        _check_base_url(self.base_url)

    @property
    def size(self) -> tuple[int, int]:
        return FORMATS[self.format]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ContactSheetConfig:
    """How a contact sheet is laid out (`dstrtd export contact-sheet`)."""

    columns: int = setting(6, "thumbnails per row")
    thumb: int = setting(240, f"thumbnail size in px, 16-{THUMB_MAX}")
    title: str = setting("", "the sheet's heading", show="DSTRTD, the number of pieces and the time")

    def __post_init__(self) -> None:
        if not 16 <= self.thumb <= THUMB_MAX:
            raise ExportError(f"thumb must be between 16 and {THUMB_MAX} px, not {self.thumb}")
        if self.columns < 1:
            raise ExportError(f"columns must be at least 1, not {self.columns}")
