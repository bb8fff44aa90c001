"""How a piece is told on its page: its prompts and the facts of how it was made. Plain data, no HTML, no web.

Its title, reflection and addresses are `curation.public`'s, shared with every other surface.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from curation.catalog import Piece
from curation.photos import Photo
from curation.public import piece_prompts, public_name, short_text

SERIES_LINE = "Is your perception DSTRTD (distorted)?"
AI_LINE = "This image was created by Artificial Intelligence."
SERIES_TEXT = ("This image is part of DSTRTD, a series of computer-generated snapshots of nature meant to question "
               "how our generations' perception of the natural world is shaped by our dependence on digital media.")

MADE_TEXT = ("No one drew this. An image model (VQGAN) changed its picture step by step, while a second model (CLIP), "
             "which learned to match pictures and words from millions of examples, judged how close the picture was to "
             "the prompt.")
PHOTO_SERIES_TEXT = ("This photograph is shown in DSTRTD, a series of computer-generated snapshots of nature meant to "
                     "question how our generations' perception of the natural world is shaped by our dependence on "
                     "digital media: the nature that the computer's pictures distort.")
PHOTO_MADE_TEXT = ("A camera took this picture; no computer made or changed it. It hangs among the computer's pictures "
                   "so that one can be compared with the other.")

ABOUT_TEXT = ("DSTRTD is a series of computer-generated snapshots of nature meant to question how our generations' "
              "perception of the natural world is shaped by our dependence on digital media. Each piece is motivated "
              "by a different consequence of climate change.")

_MAX_TEXT = 400  # why: settings are ours, but a runaway value must not turn a phone page into a wall of text


def plain(value: Any) -> str:
    """A setting's value as one short line of text (lists joined, paths reduced, numbers compact)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {plain(v)}" for k, v in value.items())
    return short_text(public_name(str(value)), _MAX_TEXT)


def prompt_lines(piece: Piece) -> list[str]:
    """The prompts a piece was made from, in words: 'a coral reef', 'glitch art (weight 0.6)', 'text (pushed away)'."""
    lines = []
    for text, weight in piece_prompts(piece)[:12]:
        if weight < 0:
            text += " (pushed away)"
        elif weight != 1:
            text += f" (weight {weight:g})"
        lines.append(short_text(text, _MAX_TEXT))
    return lines


def _models(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    models = settings.get("models")
    models = models if isinstance(models, Mapping) else {}
    vqgan = settings.get("vqgan", models.get("vqgan"))
    perceptors = settings.get("perceptors", models.get("perceptors"))
    if vqgan:
        rows.append(("Image model", plain(vqgan)))
    if perceptors:
        rows.append(("Judged by", plain(perceptors)))
    return rows


def made_with(piece: Piece) -> list[tuple[str, str]]:
    """(label, text) rows for 'How it was made', from the settings that travelled with the image."""
    s = piece.settings
    rows: list[tuple[str, str]] = []
    if isinstance(s.get("steps"), int):
        rows.append(("Steps", f"{s['steps']:,}"))
    seed = piece.seed if piece.seed is not None else s.get("seed")
    if isinstance(seed, int):
        rows.append(("Seed", str(seed)))
    size = s.get("size")
    if isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) for v in size):
        rows.append(("Size", f"{size[0]} × {size[1]} pixels"))
    elif piece.width and piece.height:
        rows.append(("Size", f"{piece.width} × {piece.height} pixels"))
    rows += _models(s)
    if s.get("optimizer"):
        lr = s.get("lr")
        rows.append(("Optimiser", plain(s["optimizer"]) + (f", learning rate {lr:g}" if isinstance(lr, int | float)
                                                            and not isinstance(lr, bool) else "")))
    if isinstance(s.get("cutn"), int):
        rows.append(("Cutouts per step", str(s["cutn"])))
    seconds = s.get("seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds) and seconds > 0:
        minutes, secs = divmod(round(seconds), 60)
        took = f"{minutes} min {secs} s" if minutes else f"{secs} s"
        device = s.get("device")
        rows.append(("Time", took + (f" on {plain(device)}" if isinstance(device, str) and device else "")))
    if piece.created:
        rows.append(("Made", piece.created[:10]))
    return rows


def photo_facts(piece: Piece, photo: Photo) -> list[tuple[str, str]]:
    """(label, text) rows for 'How it was made' of a photograph: who took it, under which licence, its size."""
    rows = [("Photograph", f"by {photo.credit}" if photo.credit else "photographer unknown")]
    if photo.licence:
        rows.append(("Licence", photo.licence))
    if piece.width and piece.height:
        rows.append(("Size", f"{piece.width} × {piece.height} pixels"))
    if piece.created:
        rows.append(("Added", piece.created[:10]))
    return rows


def format_score(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "–"
