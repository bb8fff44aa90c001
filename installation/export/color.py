"""Colour of what we write: everything we export is sRGB (what screens, Instagram and print shops assume for RGB
files), and says so. Reading any image as sRGB is `generator.common.images.to_rgb`."""

from __future__ import annotations

from PIL import ImageCms

SRGB_ICC: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # the tag of exported JPEGs

