"""Colour: everything we export is sRGB (what screens, Instagram and print shops assume for RGB files)."""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageCms

log = logging.getLogger(__name__)

SRGB_ICC: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def to_srgb(image: Image.Image) -> Image.Image:
    """RGB in sRGB: converted from the image's embedded ICC profile if it has one, else taken as sRGB already."""
    icc = image.info.get("icc_profile")
    rgb = image.convert("RGB")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(rgb, src, dst, outputMode="RGB")
            if converted is not None:
                rgb = converted
        except (ImageCms.PyCMSError, OSError) as exc:
            log.warning("ignoring an unreadable ICC profile (%s); taking the image as sRGB", exc)
    return rgb
