"""Instagram posts: the image at 1080 px (4:5 or 1:1, sRGB JPEG), the caption in the artist's words, alt text, and an
optional second slide showing how the computer made it.

The caption follows seed 004's "Example of presentation of the artworks": an opening line, the question of how
computers see the world, the ecosystem's facts, the series line, the question of perception, then the hashtags.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFilter, ImageOps

from curation.catalog import Catalog, Piece, Theme, now_iso
from curation.photos import Photo, piece_photo
from curation.public import piece_prompts, public_view
from generator.common.errors import UnreadableImage
from generator.common.files import write_bytes_atomic, write_json_atomic, write_text_atomic
from generator.common.images import open_rgb, to_rgb
from installation.export.color import SRGB_ICC
from installation.export.config import SocialConfig
from installation.export.errors import CaptionError, ExportError
from installation.export.fonts import get_font, wrap
from installation.export.pieces import open_artwork, piece_file, read_loss_trace, read_settings, relative_to_studio

log = logging.getLogger(__name__)

OPENING = "This image was created by Artificial Intelligence."
QUESTION_TEMPLATE = ("Have you ever wondered how computers see the world? "
                     "This is what {thing} looks like for a computer.")
# an imported photograph (curation.photos): said so, its photographer credited, set against the computer's pictures
PHOTO_QUESTION_TEMPLATE = ("Have you ever wondered how computers see the world? Before a computer distorts it, this is "
                           "what {thing} looks like through a camera.")
SERIES_LINE = ("This image is part of DSTRTD, a series of computer-generated snapshots of nature meant to question how "
               "our generations' perception of the natural world is shaped by our dependence on digital media.")
CLOSING = "Is your perception DSTRTD (distorted)?"
CAPTION_MAX_CHARS = 2200  # Instagram's caption limit
MAX_HASHTAGS = 5  # Instagram's hashtag limit per post
MAX_JPEG_BYTES = 8 * 1024 * 1024  # Instagram's upload limit for a photo
_HASHTAG_RE = re.compile(r"(?<![\w&])#\w+")
# a theme's tags that say the computer made the picture: left off a photograph's post
AI_HASHTAGS = frozenset({"#ai", "#aiart", "#aiartwork", "#aiartcommunity", "#aigenerated", "#aiartist",
                         "#generativeart", "#vqgan", "#vqganclip", "#clip"})


# -- text ----------------------------------------------------------------------------------------------------------


def theme_phrase(theme: Theme) -> str:
    """'a coral reef', 'an old-growth forest': the theme's title as it reads inside a sentence."""
    title = (theme.title or theme.name.replace("-", " ")).strip()
    words = title.split()
    acronym = bool(words) and len(words[0]) > 1 and words[0].isupper()
    if words and not acronym:  # "Coral reef" -> "coral reef"; acronyms keep their capitals
        title = title[0].lower() + title[1:]
    if re.match(r"^(a|an|the|some)\s", title, re.IGNORECASE):
        return title
    # an acronym is read letter by letter: "an NGO", "a UK ..."
    vowel_sound = title[:1] in "AEFHILMNORSX" if acronym else title[:1].lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {title}"


def normalize_hashtags(theme: Theme) -> list[str]:
    tags = []
    for raw in theme.hashtags:
        tag = raw.strip()
        tag = tag if tag.startswith("#") else f"#{tag}"
        if not re.fullmatch(r"#\w+", tag):
            raise CaptionError(f"theme {theme.name!r}: hashtag {raw!r} must be one word of letters, digits or _ "
                               "(fix `hashtags` in themes.toml)")
        tags.append(tag)
    return list(dict.fromkeys(tags))


def build_caption(theme: Theme, *, url: str | None = None, photo: Photo | None = None) -> str:
    """The artist's caption for a piece of `theme` (validated against Instagram's limits); for a `photo`, what it is
    and who took it instead of the AI's lines."""
    if photo is not None:
        paragraphs = [f"{photo.byline}.", PHOTO_QUESTION_TEMPLATE.format(thing=theme_phrase(theme))]
    else:
        paragraphs = [OPENING, QUESTION_TEMPLATE.format(thing=theme_phrase(theme))]
    if theme.facts.strip():
        paragraphs.append(" ".join(theme.facts.split()))
    else:
        log.warning("theme %s has no `facts`; its caption goes without the ecosystem's facts", theme.name)
    paragraphs += [SERIES_LINE, CLOSING]
    if url:
        paragraphs.append(url)
    tags = normalize_hashtags(theme)
    if photo is not None:
        tags = [t for t in tags if t.lower() not in AI_HASHTAGS]
    if tags:
        paragraphs.append(" ".join(tags))
    caption = "\n\n".join(paragraphs)
    validate_caption(caption, theme.name)
    return caption


def validate_caption(caption: str, theme_name: str) -> None:
    """Raise `CaptionError` naming the theme if `caption` breaks Instagram's limits."""
    if len(caption) > CAPTION_MAX_CHARS:
        raise CaptionError(f"theme {theme_name!r}: the caption has {len(caption):,} characters, Instagram allows "
                           f"{CAPTION_MAX_CHARS:,}; shorten the theme's `facts` in themes.toml by "
                           f"{len(caption) - CAPTION_MAX_CHARS:,}")
    tags = _HASHTAG_RE.findall(caption)
    if len(tags) > MAX_HASHTAGS:
        raise CaptionError(f"theme {theme_name!r}: the caption has {len(tags)} hashtags ({' '.join(tags)}), "
                           f"Instagram allows {MAX_HASHTAGS}; keep {MAX_HASHTAGS} in the theme's `hashtags`")


def prompt_texts(piece: Piece, settings: dict[str, Any]) -> list[str]:
    """The positive prompts' words, without `:weight:stop` suffixes."""
    return [text for text, weight in piece_prompts(piece, settings) if weight > 0]


# A small palette for alt text: the nearest of these names for each dominant colour.
_COLOUR_NAMES = {
    "black": (20, 20, 20), "white": (240, 240, 240), "grey": (128, 128, 128), "red": (210, 40, 40),
    "orange": (240, 140, 30), "yellow": (240, 220, 40), "green": (50, 170, 60), "teal": (30, 150, 150),
    "blue": (40, 80, 220), "purple": (130, 50, 180), "pink": (240, 120, 190), "magenta": (220, 40, 200),
    "brown": (120, 75, 40), "cyan": (60, 220, 230), "navy": (25, 30, 100), "olive": (120, 130, 40),
}


def dominant_colours(image: Image.Image, n: int = 3) -> list[str]:
    """Names of the image's `n` most common colours (distinct names, most common first)."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
    quant = small.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    palette = quant.getpalette() or []
    counts = sorted(quant.getcolors() or [], reverse=True)
    names: list[str] = []
    table = np.array(list(_COLOUR_NAMES.values()), dtype=float)
    keys = list(_COLOUR_NAMES)
    for _, index in counts:
        rgb = np.array(palette[index * 3: index * 3 + 3], dtype=float)
        name = keys[int(np.argmin(((table - rgb) ** 2).sum(axis=1)))]
        if name not in names:
            names.append(name)
        if len(names) == n:
            break
    return names


def _and_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def build_alt_text(piece: Piece, theme: Theme | None, settings: dict[str, Any], image: Image.Image | None = None,
                   max_chars: int = 600) -> str:
    """Alt text: what the image is (computer-generated, of what, from which words; or a photograph and by whom) and
    its main colours."""
    thing = theme_phrase(theme) if theme else "a natural scene"
    photo = piece_photo(settings)
    if photo is not None:
        parts = [f"A photograph of {thing}" + (f" by {photo.credit}" if photo.credit else "") + "."]
    else:
        prompts = prompt_texts(piece, settings)
        parts = [f"A computer-generated image of {thing}, made by artificial intelligence (VQGAN+CLIP)"]
        if prompts:
            quoted = " and ".join(f"“{p}”" for p in prompts[:3])
            parts[0] += f" from the words {quoted}"
        parts[0] += "."
    if image is not None:
        colours = dominant_colours(image)
        if colours:
            parts.append(f"Mostly {_and_list(colours)}.")
    parts.append("Part of the DSTRTD series.")
    text = " ".join(parts)
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


# -- images --------------------------------------------------------------------------------------------------------

def render_post_image(artwork: Image.Image, size: tuple[int, int], fit: str = "blur",
                      background: str = "#111111") -> Image.Image:
    """The artwork in a `size` frame: `crop` fills it (centre crop), `pad` fits it on `background`, `blur` fits it
    on a blurred, darkened copy of itself."""
    art = to_rgb(artwork)
    if fit == "crop":
        return ImageOps.fit(art, size, Image.Resampling.LANCZOS)
    fitted = ImageOps.contain(art, size, Image.Resampling.LANCZOS)
    if fit == "blur":
        back = ImageOps.fit(art, (size[0] // 8, size[1] // 8), Image.Resampling.BILINEAR)
        back = back.filter(ImageFilter.GaussianBlur(3)).resize(size, Image.Resampling.BICUBIC)
        frame = Image.blend(back, Image.new("RGB", size, (0, 0, 0)), 0.45)
    else:
        frame = Image.new("RGB", size, ImageColor.getrgb(background)[:3])
    frame.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return frame


def encode_jpeg(image: Image.Image, quality: int = 92, max_bytes: int = MAX_JPEG_BYTES) -> bytes:
    """An sRGB-tagged JPEG under `max_bytes` (lowering the quality if it must)."""
    for q in range(quality, 49, -5):
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "JPEG", quality=q, subsampling=0 if q >= 90 else 2, optimize=True,
                                  icc_profile=SRGB_ICC)
        if buf.tell() <= max_bytes:
            return buf.getvalue()
    raise ExportError(f"cannot make a JPEG under {max_bytes // (1024 * 1024)} MB from a {image.size} image")


def render_how_slide(piece: Piece, settings: dict[str, Any], size: tuple[int, int], *,
                     loss_png: Path | None = None, loss_trace: Sequence[float] = (),
                     thing: str = "nature") -> Image.Image:
    """The carousel's second slide: the words the computer was given, how it worked, and its loss curve."""
    w, h = size
    ink, muted, accent = (238, 238, 238), (160, 160, 165), (120, 220, 200)
    slide = Image.new("RGB", size, (14, 14, 16))
    draw = ImageDraw.Draw(slide)
    pad = 72
    y = pad
    title_font, body_font, small_font = get_font(58, bold=True), get_font(32), get_font(26)
    draw.text((pad, y), "How a computer sees it", font=title_font, fill=ink)
    y += 96
    prompts = prompt_texts(piece, settings) or [piece.prompt or thing]
    intro = (f"No camera and no brush. A program was given the words below and changed its pixels, step by step, "
             f"until a second program that links pictures to words agreed that it looked like {thing}.")
    for line in wrap(draw, intro, body_font, w - 2 * pad):
        draw.text((pad, y), line, font=body_font, fill=muted)
        y += 44
    y += 24
    for prompt in prompts[:3]:
        for line in wrap(draw, f"“{prompt}”", get_font(40, bold=True), w - 2 * pad)[:3]:
            draw.text((pad, y), line, font=get_font(40, bold=True), fill=accent)
            y += 54
    y += 16
    facts = []
    steps = settings.get("steps") or (len(loss_trace) or None)
    if steps:
        facts.append(f"{steps} steps")
    if settings.get("seed") is not None or piece.seed is not None:
        facts.append(f"seed {settings.get('seed', piece.seed)}")
    if piece.width and piece.height:
        facts.append(f"{piece.width}×{piece.height} px")
    models = [str(settings.get("vqgan") or "VQGAN")] + [str(p) for p in (settings.get("perceptors") or ["CLIP"])]
    facts.append(" + ".join(models))
    for line in wrap(draw, " · ".join(facts), small_font, w - 2 * pad):
        draw.text((pad, y), line, font=small_font, fill=muted)
        y += 38
    y += 28

    caption_h = 80
    box = (pad, y, w - pad, h - pad - caption_h)
    plot = None
    if loss_png is not None and loss_png.is_file():
        try:
            plot = ImageOps.contain(open_rgb(loss_png).image, (box[2] - box[0], box[3] - box[1]),
                                    Image.Resampling.LANCZOS)
        except UnreadableImage as exc:
            log.warning("piece %s: cannot read %s (%s); drawing the curve from loss.csv", piece.slug, loss_png, exc)
    if plot is not None:
        slide.paste(plot, (box[0] + (box[2] - box[0] - plot.width) // 2, box[1]))
        bottom = box[1] + plot.height
    elif len(loss_trace) >= 2:
        _draw_curve(draw, box, loss_trace, accent, muted)
        bottom = box[3]
    else:
        bottom = y
    text = "The loss: how far the picture still was from the words, at each step. Lower is closer."
    if loss_trace:
        text += f" It ended at {loss_trace[-1]:.3f}."
    for i, line in enumerate(wrap(draw, text, small_font, w - 2 * pad)[:2]):
        draw.text((pad, bottom + 20 + 36 * i), line, font=small_font, fill=muted)
    return slide


def _draw_curve(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], values: Sequence[float],
                color: tuple[int, int, int], axis: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    draw.line((x0, y1, x1, y1), fill=axis, width=2)
    draw.line((x0, y0, x0, y1), fill=axis, width=2)
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    n = len(values)
    points = [(x0 + 8 + (x1 - x0 - 16) * i / (n - 1), y1 - 8 - (y1 - y0 - 16) * (v - lo) / span)
              for i, v in enumerate(values)]
    draw.line(points, fill=color, width=4, joint="curve")


# -- batch ---------------------------------------------------------------------------------------------------------


@dataclass
class SocialResult:
    piece_id: int
    slug: str
    folder: Path | None = None
    images: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def export_social_post(catalog: Catalog, piece: Piece, out_dir: Path, config: SocialConfig,
                       theme: Theme | None) -> dict[str, Any]:
    """Write `out_dir/<slug>/` (image.jpg, [how-a-computer-sees-it.jpg], caption.txt, alt.txt, post.json)."""
    if theme is None:
        raise CaptionError(f"piece {piece.slug} has no theme (or its theme is not in the catalog); the caption "
                           "takes the theme's facts and hashtags: add the theme to themes.toml")
    view = public_view(piece, theme, config.base_url)
    caption = build_caption(theme, url=view.url if config.link else None, photo=view.photo)
    settings = read_settings(catalog, piece)
    artwork = open_artwork(catalog.abspath(piece.file))
    alt = build_alt_text(piece, theme, settings, artwork)
    folder = out_dir / piece.slug
    images = {"image.jpg": encode_jpeg(render_post_image(artwork, config.size, config.fit, config.background),
                                       config.quality)}
    if config.carousel and view.photo is not None:
        log.info("social post %s: a photograph, so no 'how a computer sees it' slide", piece.slug)
    elif config.carousel:
        slide = render_how_slide(piece, settings, config.size, loss_png=piece_file(catalog, piece, "loss.png"),
                                 loss_trace=read_loss_trace(piece_file(catalog, piece, "loss.csv")),
                                 thing=theme_phrase(theme))
        images["how-a-computer-sees-it.jpg"] = encode_jpeg(slide, config.quality)
    for name, data in images.items():
        write_bytes_atomic(folder / name, data)
    write_text_atomic(folder / "caption.txt", caption + "\n")
    write_text_atomic(folder / "alt.txt", alt + "\n")
    post = {
        "piece_id": piece.id, "slug": piece.slug, "title": view.title, "theme": theme.name,
        # why not in the caption: seed 004's caption has no reflection line; this is for the artist posting by hand
        "reflection": view.reflection, "url": view.url, "format": config.format,
        "photo": {"credit": view.photo.credit, "licence": view.photo.licence} if view.photo else None,
        "size": list(config.size), "images": list(images),
        "caption": caption, "caption_chars": len(caption), "hashtags": _HASHTAG_RE.findall(caption), "alt": alt,
        "config": config.to_dict(), "created": now_iso(),
    }
    write_json_atomic(folder / "post.json", post)
    return post


def export_social(catalog: Catalog, pieces: Sequence[Piece], out_dir: str | os.PathLike[str],
                  config: SocialConfig = SocialConfig(), *,
                  on_progress: Callable[[int, int, SocialResult], None] | None = None,
                  record: bool = True) -> list[SocialResult]:
    """A post folder per piece; a failure on one piece (e.g. a caption over the limits) is reported, the rest go
    on. Each post is recorded as `add_export(piece_id, "social", folder, details={"caption": ...})`, which is
    what `dstrtd engagement` matches captions against."""
    out = Path(out_dir)
    themes = {t.name: t for t in catalog.list_themes()}
    results: list[SocialResult] = []
    for piece in pieces:
        result = SocialResult(piece.id, piece.slug)
        try:
            post = export_social_post(catalog, piece, out, config, themes.get(piece.theme or ""))
            result.folder, result.images = out / piece.slug, post["images"]
            if record:
                catalog.add_export(piece.id, "social", relative_to_studio(catalog, result.folder), details={
                    k: post[k] for k in ("caption", "alt", "format", "images", "url", "hashtags")})
        except ExportError as exc:
            result.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad piece must not stop the batch
            result.error = f"{type(exc).__name__}: {exc}"
        if result.error:
            log.error("social post %s failed: %s", piece.slug, result.error)
        results.append(result)
        if on_progress is not None:
            on_progress(len(results), len(pieces), result)
    return results
