"""Helpers every package shares, each written once: errors, files, images, registries, settings, devices.

This is the lowest layer of the house: it imports nothing else of DSTRTD and, at import, nothing heavier than the
standard library, Pillow and numpy, so the gallery machine's display-only install (no torch) uses it too. `device`
imports torch only inside its function.
"""
