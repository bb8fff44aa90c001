"""Opening hours."""

from __future__ import annotations

from datetime import datetime

import pytest

from installation.gallery.config import GalleryError
from installation.gallery.schedule import Schedule

MONDAY = datetime(2025, 6, 2)  # a Monday


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return MONDAY.replace(day=2 + day, hour=hh, minute=mm)


def test_always_open_without_hours():
    assert Schedule.parse(None).is_open(at(0, 3)) and Schedule.parse("always").always_open


def test_daily_hours():
    s = Schedule.parse("10:00-18:00")
    assert not s.is_open(at(0, 9, 59)) and s.is_open(at(0, 10)) and s.is_open(at(6, 17, 59))
    assert not s.is_open(at(0, 18))


def test_days_and_several_rules():
    s = Schedule.parse("tue-sun 10:00-18:00; mon 12:00-14:00")
    assert not s.is_open(at(0, 11)) and s.is_open(at(0, 13)) and s.is_open(at(1, 11)) and s.is_open(at(6, 11))
    weekend = Schedule.parse("sat,sun 11:00-15:00")
    assert weekend.is_open(at(5, 12)) and not weekend.is_open(at(4, 12))
    wrap = Schedule.parse("fri-mon 10:00-12:00")
    assert wrap.is_open(at(0, 11)) and wrap.is_open(at(6, 11)) and not wrap.is_open(at(2, 11))


def test_past_midnight_belongs_to_the_day_it_starts():
    s = Schedule.parse("fri 20:00-02:00")
    assert s.is_open(at(4, 23)) and s.is_open(at(5, 1)) and not s.is_open(at(5, 3)) and not s.is_open(at(4, 1))
    assert Schedule.parse("18:00-24:00").is_open(at(0, 23, 59))


def test_next_change():
    s = Schedule.parse("10:00-18:00")
    assert s.next_change(at(0, 9, 30)) == at(0, 10) and s.next_change(at(0, 12)) == at(0, 18)
    assert Schedule.parse(None).next_change(at(0, 1)) is None


@pytest.mark.parametrize("bad, message", [
    ("10-18", "not a time like"), ("25:00-26:00", "not a time like"), ("someday 10:00-12:00", "not a day"),
    ("10:00", "expected HH:MM-HH:MM"), ("10:00-10:00", "the same"),
])
def test_bad_hours_say_what_is_wrong(bad, message):
    with pytest.raises(GalleryError, match=message):
        Schedule.parse(bad)
