"""Social posts: the caption in the artist's words (seed 004), Instagram's limits with errors naming the theme, the
image files, alt text, the carousel slide and the catalog record that engagement matching reads."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from curation.catalog import Theme
from curation.public import piece_url
from installation.export.config import SocialConfig
from installation.export.errors import CaptionError
from installation.export.social import (
    build_caption,
    export_social,
    prompt_texts,
    render_how_slide,
    theme_phrase,
)

# Seed 004, "Example of presentation of the artworks", with the default coral-reef theme's hashtags.
SEED_004_CAPTION = """\
This image was created by Artificial Intelligence.

Have you ever wondered how computers see the world? This is what a coral reef looks like for a computer.

Coral reefs support more species than any other marine environment, they clean the ocean from carbon dioxide, \
protect coastlines from storms and erosion, and over half a billion people depend on them for food, income, and \
protection. Unfortunately, because of climate change, more than half of all coral reefs have been lost, and the \
rest are experiencing rapid extinction.

This image is part of DSTRTD, a series of computer-generated snapshots of nature meant to question how our \
generations' perception of the natural world is shaped by our dependence on digital media.

Is your perception DSTRTD (distorted)?

#DSTRTD #coralreef #climatechange #aiart #sciencecommunication"""


def test_caption_follows_the_artists_template(studio) -> None:
    theme = {t.name: t for t in studio.load_themes()}["coral-reef"]
    assert build_caption(theme) == SEED_004_CAPTION


@pytest.mark.parametrize(("title", "phrase"), [
    ("Coral reef", "a coral reef"), ("Old-growth forest", "an old-growth forest"), ("Glacier", "a glacier"),
    ("The Amazon", "the Amazon"), ("UK wetland", "a UK wetland"),
])
def test_theme_phrase(title: str, phrase: str) -> None:
    assert theme_phrase(Theme(name="x", title=title)) == phrase


def test_caption_over_2200_characters_names_the_theme() -> None:
    theme = Theme(name="kelp-forest", title="Kelp forest", facts="Kelp grows fast. " * 200, hashtags=("#kelp",))
    with pytest.raises(CaptionError, match=r"theme 'kelp-forest'.*2,200"):
        build_caption(theme)


def test_more_than_5_hashtags_names_the_theme() -> None:
    theme = Theme(name="mangrove", title="Mangrove", facts="Mangroves #protect coasts.",
                  hashtags=("#a", "#b", "#c", "#d", "#e"))
    with pytest.raises(CaptionError, match=r"theme 'mangrove'.*6 hashtags.*allows 5"):
        build_caption(theme)
    with pytest.raises(CaptionError, match="one word"):
        build_caption(dataclasses.replace(theme, facts="", hashtags=("#two words",)))


def test_prompt_texts_drop_weights_and_negative_prompts(catalog, add_piece) -> None:
    piece = add_piece(catalog)
    assert prompt_texts(piece, {"prompts": ["a reef, glitch art:0.6:-inf", "text:-0.5", "plain"]}) == [
        "a reef, glitch art", "plain"]


@pytest.mark.parametrize(("fmt", "size"), [("4:5", (1080, 1350)), ("1:1", (1080, 1080))])
def test_export_writes_the_post_folder(catalog, add_piece, out_dir: Path, base_url: str, fmt: str,
                                       size: tuple[int, int]) -> None:
    piece = add_piece(catalog, size=(160, 96), prompt="a coral reef, digital distortion:1")
    results = export_social(catalog, [piece], out_dir, SocialConfig(format=fmt))
    assert results[0].ok, results[0].error
    folder = out_dir / piece.slug
    assert sorted(p.name for p in folder.iterdir()) == ["alt.txt", "caption.txt", "image.jpg", "post.json"]
    with Image.open(folder / "image.jpg") as im:
        assert im.format == "JPEG" and im.size == size and im.mode == "RGB"
        profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile)
    assert (folder / "image.jpg").stat().st_size < 8 * 1024 * 1024
    caption = (folder / "caption.txt").read_text().strip()
    assert caption == SEED_004_CAPTION
    alt = (folder / "alt.txt").read_text()
    assert "computer-generated" in alt and "coral reef" in alt and "“a coral reef, digital distortion”" in alt
    post = json.loads((folder / "post.json").read_text())
    assert post["url"] == piece_url(piece.slug, base_url) and post["images"] == ["image.jpg"]
    assert post["caption"] == caption and len(post["hashtags"]) == 5
    [export] = catalog.exports(kind="social")
    assert export["piece_id"] == piece.id and export["details"]["caption"] == caption


def test_carousel_adds_the_how_a_computer_sees_it_slide(catalog, add_piece, out_dir: Path) -> None:
    piece = add_piece(catalog, with_loss_png=True)
    [result] = export_social(catalog, [piece], out_dir, SocialConfig(carousel=True, link=True))
    assert result.images == ["image.jpg", "how-a-computer-sees-it.jpg"]
    with Image.open(out_dir / piece.slug / "how-a-computer-sees-it.jpg") as slide:
        assert slide.size == (1080, 1350)
    assert piece_url(piece.slug) in (out_dir / piece.slug / "caption.txt").read_text()


def test_how_slide_draws_the_curve_when_there_is_no_loss_png(catalog, add_piece) -> None:
    piece = add_piece(catalog)
    slide = render_how_slide(piece, {"steps": 3}, (1080, 1350), loss_trace=[3.0, 2.0, 1.0])
    assert slide.size == (1080, 1350) and len(slide.getcolors(1 << 16) or []) > 10


def test_a_bad_theme_fails_its_piece_only(catalog, add_piece, out_dir: Path) -> None:
    catalog.upsert_theme(Theme(name="loud", title="Loud", facts="x", hashtags=tuple(f"#t{i}" for i in range(7))))
    bad, no_theme, good = add_piece(catalog, theme="loud"), add_piece(catalog, theme=None), add_piece(catalog)
    progress: list[int] = []
    results = export_social(catalog, [bad, no_theme, good], out_dir,
                            on_progress=lambda done, total, r: progress.append(done))
    assert progress == [1, 2, 3]
    assert "theme 'loud'" in results[0].error and "7 hashtags" in results[0].error
    assert "no theme" in results[1].error
    assert results[2].ok
    assert [e["piece_id"] for e in catalog.exports(kind="social")] == [good.id]
    assert not (out_dir / bad.slug).exists()


def test_a_photographs_post_says_what_it_is_and_credits_the_photographer(studio, catalog, tmp_path: Path) -> None:
    from curation.photos import photo_settings

    from .conftest import artwork_png

    piece = catalog.add_piece({"image.png": artwork_png(3)}, prompt="Path", theme="coral-reef", title="Path",
                              status="accepted", settings={"imported_from": "/home/ana/plasma__Path.jpg",
                                                           **photo_settings("Risto Saukonpää", "LGPLv3")})
    studio.sync_themes()
    [result] = export_social(catalog, [piece], tmp_path, SocialConfig(carousel=True))
    assert result.ok, result.error
    folder = tmp_path / piece.slug
    caption, alt = (folder / "caption.txt").read_text(), (folder / "alt.txt").read_text()
    assert caption.startswith("Photograph by Risto Saukonpää (LGPLv3).\n\n")
    assert "through a camera" in caption and "created by Artificial Intelligence" not in caption
    assert "#aiart" not in caption and "#DSTRTD" in caption, "no tag may claim the computer made it"
    assert alt.startswith("A photograph of a coral reef by Risto Saukonpää.") and "VQGAN" not in alt
    post = json.loads((folder / "post.json").read_text())
    assert post["photo"] == {"credit": "Risto Saukonpää", "licence": "LGPLv3"} and post["images"] == ["image.jpg"]
