"""QR sizing from the screen's assumed physical size, and text wrapping."""

from __future__ import annotations

import pytest

from installation.gallery.overlay import MAX_SIDE_FRACTION, balanced_wrap, pixels_per_metre, qr_size, wrap
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


class TooMuchWork(Exception):
    pass


def work(text: str, budget: int) -> int:
    """Characters measured while wrapping `text` as the gallery does (a title's balanced lines, a reflection's four);
    past `budget` the wrap is stopped, so a cubic wrap fails this test instead of hanging it."""
    spent = 0

    def measure(s: str) -> int:
        nonlocal spent
        spent += len(s) + 1
        if spent > budget:
            raise TooMuchWork(f"over {budget} characters measured")
        return 9 * len(s)  # a monospaced 9 px font

    balanced_wrap(text, 600, measure, 2)
    wrap(text, 900, measure, 4)
    return spent


def test_wrapping_a_long_word_costs_work_linear_in_its_length():
    """One 5,000-character title without spaces made the gallery spend 40 s a frame (cubic in the word's length)."""
    fifty_words = work(" ".join(["glacier", "melting", "quietly", "tonight", "reef"] * 10), budget=10**6)
    one_word = work("x" * 5000, budget=10 * fifty_words)
    assert one_word <= 10 * fifty_words, "a 5,000-character word costs about what 50 short words cost"
    assert work("x" * 50_000, budget=15 * one_word) <= 15 * one_word, "ten times longer: about ten times the work"
    assert work("y" * 5000 + " tail", budget=10 * fifty_words) <= 10 * fifty_words
