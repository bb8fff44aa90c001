"""QR sizing from the screen's assumed physical size, and text wrapping."""

from __future__ import annotations

import pytest

from installation.gallery.overlay import MAX_SIDE_FRACTION, pixels_per_metre, qr_size, wrap
from installation.qr import QUIET_ZONE


def test_qr_size_worked_example_1080p_55_inch():
    size = qr_size(29, (1920, 1080), screen_inches=55, scan_distance=2.0)
    assert pixels_per_metre((1920, 1080), 55) == pytest.approx(1577, abs=1)
    assert size.module_px == 11 and size.side_px == 11 * (29 + 2 * QUIET_ZONE) and not size.capped
    assert size.scan_distance >= 2.0


def test_qr_modules_grow_with_pixel_density_and_distance():
    hd = qr_size(29, (1920, 1080), screen_inches=55, scan_distance=2.0)
    uhd = qr_size(29, (3840, 2160), screen_inches=55, scan_distance=2.0)
    assert uhd.module_px == pytest.approx(2 * hd.module_px, abs=1)
    assert qr_size(29, (1920, 1080), screen_inches=55, scan_distance=1.0).module_px < hd.module_px


def test_qr_is_capped_on_small_screens_and_says_how_far_it_reads():
    size = qr_size(29, (1920, 1080), screen_inches=55, scan_distance=5.0)
    assert size.capped and size.side_px <= MAX_SIDE_FRACTION * 1080 and size.scan_distance < 5.0
    windowed = qr_size(29, (1920, 1080), screen_inches=55, scan_distance=2.0, room_px=(640, 360))
    assert windowed.side_px <= MAX_SIDE_FRACTION * 360
    assert qr_size(29, (100, 100), screen_inches=55, scan_distance=0.01).module_px >= 1


def test_wrap():
    measure = len
    assert wrap("one two three four", 9, measure, 2) == ["one two", "three…"]
    assert wrap("one two", 20, measure, 2) == ["one two"]
    assert wrap("incomprehensibilities", 8, measure, 1) == ["incompr…"]
    assert wrap("", 10, measure, 2) == []
