"""Curators' images and embeddings: decoded as the gallery decodes them, fitted square, cached atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from curation.embeddings import EmbeddingCache, load_encoder, load_image, load_images, pil_to_tensor, resize_normalize
from generator.common.errors import DeviceUnavailable, UnreadableImage


def exif_rotated_photo(path: Path) -> Path:
    """A 32x32 photo stored sideways: red left half, blue right half, and EXIF orientation 6 (rotate 90 clockwise to
    view), so a viewer that applies the orientation sees red on top."""
    im = Image.new("RGB", (32, 32), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 16, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(path, exif=exif)
    return path


def transparent_png(path: Path) -> Path:
    """A 32x32 RGBA piece: opaque green left, fully transparent magenta right, a half-transparent white band."""
    im = Image.new("RGBA", (32, 32), (255, 0, 255, 0))
    im.paste((0, 200, 0, 255), (0, 0, 16, 32))
    im.paste((255, 255, 255, 128), (0, 12, 32, 20))
    im.save(path)
    return path


def gallery_pixels(path: Path) -> np.ndarray:
    """(H, W, 3) uint8: what the gallery puts on screen for `path` at its own size."""
    from installation.gallery.images import RAW_MODE, prepare

    with Image.open(path) as im:
        w, h = im.size
    prepared = prepare(path, (w, h), fit_mode="fill")
    return np.asarray(Image.frombytes(RAW_MODE, prepared.size, prepared.data).convert("RGB"))


def as_uint8(x: torch.Tensor) -> np.ndarray:
    return x.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def test_images_load_square_in_unit_range(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    im = Image.new("RGBA", (40, 20), (255, 0, 0, 255))
    im.paste((0, 0, 255, 0), (0, 0, 10, 20))  # transparent left edge: laid on the display background
    im.save(path)
    x = load_image(path, 10)
    assert x.shape == (3, 10, 10) and 0 <= float(x.min()) and float(x.max()) <= 1
    torch.testing.assert_close(x[:, 5, 5], torch.tensor([1.0, 0.0, 0.0]))  # centre crop is red
    assert load_images([path, path], 10).shape == (2, 3, 10, 10)
    normed = resize_normalize(torch.rand(2, 3, 20, 40), 8, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert normed.shape == (2, 3, 8, 8) and float(normed.min()) >= -1.0001
    with pytest.raises(ValueError, match="\\(B, 3, H, W\\)"):
        resize_normalize(torch.rand(3, 8, 8), 8, (0, 0, 0), (1, 1, 1))


def test_embedding_cache_is_atomic_and_tolerant(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    assert cache.get("ab") is None
    cache.put("ab", torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(cache.get("ab"), torch.tensor([1.0, 2.0]))
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["ab.npy"]  # no temporary file left
    (tmp_path / "c" / "bad.npy").write_bytes(b"garbage")
    assert cache.get("bad") is None
    with pytest.raises(ValueError, match="plain names"):
        cache.get("../x")


@pytest.mark.parametrize("make", [exif_rotated_photo, transparent_png], ids=["exif-rotated", "transparent"])
def test_the_curators_see_what_the_gallery_shows(tmp_path: Path, make, monkeypatch) -> None:
    from curation.scorer.checkpoint import load_scorer

    path = make(tmp_path / "piece.png")
    shown = gallery_pixels(path)
    assert np.array_equal(as_uint8(load_image(path, 32)), shown)  # the curator's and the aligner's input
    with Image.open(path) as im:
        assert np.array_equal(as_uint8(pil_to_tensor(im, 32)), shown)
    scorer = load_scorer("tiny")  # 32 px: the scorer's input is the file's pixels, no resampling
    seen: list[torch.Tensor] = []
    monkeypatch.setattr(scorer, "score", lambda images: seen.append(images) or torch.zeros(len(images)))
    with Image.open(path) as im:
        scorer.score_images([im])
    assert np.array_equal(as_uint8(seen[0][0]), shown)
    if make is exif_rotated_photo:
        assert tuple(shown[2, 16]) == (255, 0, 0) and tuple(shown[29, 16]) == (0, 0, 255)  # upright: red on top
    else:
        assert tuple(shown[2, 2]) == (0, 200, 0) and tuple(shown[2, 29]) == (0, 0, 0)  # transparent: background


def test_a_caller_may_state_another_background(tmp_path: Path) -> None:
    path = transparent_png(tmp_path / "piece.png")
    white = load_image(path, 32, background=(255, 255, 255))
    assert as_uint8(white)[2, 29].tolist() == [255, 255, 255]
    padded = load_image(path, 16, background=(255, 255, 255), resize="pad")
    assert padded.shape == (3, 16, 16)
    with pytest.raises(ValueError, match="resize must be 'crop' or 'pad'"):
        load_image(path, 16, resize="squash")


def test_an_unreadable_image_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UnreadableImage, match=r"cannot read image .*broken\.png: not a readable image"):
        load_image(tmp_path / "broken.png", 8)
    with pytest.raises(UnreadableImage, match=r"cannot read image .*absent\.png: file is missing"):
        load_images([tmp_path / "absent.png"], 8)


def test_a_device_that_is_not_there_is_refused() -> None:
    with pytest.raises(DeviceUnavailable, match="cuda:99"):
        load_encoder("tiny", "cuda:99")
