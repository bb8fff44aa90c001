"""The loop's parts: init and image prompts decoded as the gallery decodes them, sizes on the VQGAN's grid."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from generator.errors import GeneratorError
from generator.loop import check_size, load_image, resolve_precision


def test_an_exif_rotated_photo_is_read_upright(tmp_path):
    im = Image.new("RGB", (32, 16), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 16, 16))  # stored sideways: red on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view: red on top
    im.save(tmp_path / "photo.png", exif=exif)
    x = load_image(str(tmp_path / "photo.png"), (16, 32))
    assert x.shape == (1, 3, 32, 16)
    torch.testing.assert_close(x[0, :, 2, 8], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[0, :, 29, 8], torch.tensor([0.0, 0.0, 1.0]))


def test_transparent_pixels_lie_on_the_display_background(tmp_path):
    im = Image.new("RGBA", (16, 16), (255, 0, 255, 0))  # invisible magenta
    im.paste((0, 200, 0, 255), (0, 0, 8, 16))
    im.save(tmp_path / "piece.png")
    x = load_image(str(tmp_path / "piece.png"), (16, 16))
    torch.testing.assert_close(x[0, :, 8, 2], torch.tensor([0.0, 200 / 255, 0.0]))
    torch.testing.assert_close(x[0, :, 8, 13], torch.zeros(3))


def test_unreadable_images_say_which_and_why(tmp_path):
    (tmp_path / "x.jpg").write_text("hello")
    with pytest.raises(GeneratorError, match=r"cannot read init image '.*x\.jpg' \(not a readable image"):
        load_image(str(tmp_path / "x.jpg"), (16, 16), what="init image")


def test_sizes_must_sit_on_the_grid():
    check_size((64, 48), 16)
    message = r"size 60x50 is not a multiple of 16 \(the VQGAN's cell\); use e.g. 64x48"
    with pytest.raises(GeneratorError, match=message):
        check_size((60, 50), 16)


def test_half_precision_only_on_cuda():
    assert resolve_precision("auto", torch.device("cpu")) is None
    with pytest.raises(GeneratorError, match="precision bf16 is only offered on CUDA"):
        resolve_precision("bf16", torch.device("cpu"))
