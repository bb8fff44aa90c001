"""Opening hours: when the gallery shows pieces, and when its screen stays black.

Syntax: rules separated by ";", each `[DAYS] HH:MM-HH:MM`. DAYS is a comma list of days or day ranges
(`mon-fri`, `sat,sun`, `tue-sun`, `daily`); without DAYS a rule holds every day. A range whose end is before its
start runs past midnight and belongs to the day it starts on (`fri 20:00-02:00` is open early on Saturday).
Examples: `10:00-18:00`, `tue-sun 10:00-18:00`, `mon-fri 09:00-17:00; sat 11:00-15:00`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from installation.gallery.config import GalleryError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_time(text: str, rule: str) -> time:
    m = _TIME.match(text.strip())
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and int(m.group(2))):
        raise GalleryError(f"opening hours {rule!r}: {text!r} is not a time like 09:30")
    hour, minute = int(m.group(1)), int(m.group(2))
    return time.max if hour == 24 else time(hour, minute)


def _parse_days(text: str, rule: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.lower().split(","):
        part = part.strip()
        if part in ("daily", "all", "*"):
            return frozenset(range(7))
        ends = [p.strip()[:3] for p in part.split("-")]
        if len(ends) not in (1, 2) or any(e not in DAYS for e in ends):
            raise GalleryError(f"opening hours {rule!r}: {part!r} is not a day or day range (mon, tue-sun, ...)")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        out.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(out)


@dataclass(frozen=True)
class Rule:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time

    def covers(self, when: datetime) -> bool:
        t, day = when.time(), when.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        # past midnight: the evening part on the rule's days, the early part on the following days
        return (day in self.days and t >= self.start) or ((day - 1) % 7 in self.days and t < self.end)


@dataclass(frozen=True)
class Schedule:
    rules: tuple[Rule, ...] = ()  # empty: always open

    @classmethod
    def parse(cls, text: str | None) -> Schedule:
        if text is None or not text.strip() or text.strip().lower() in ("always", "24/7"):
            return cls()
        rules = []
        for rule in (r.strip() for r in text.split(";")):
            if not rule:
                continue
            *days, hours = rule.rsplit(None, 1) if " " in rule else ("", rule)
            if "-" not in hours:
                raise GalleryError(f"opening hours {rule!r}: expected HH:MM-HH:MM, e.g. 10:00-18:00")
            start_text, end_text = hours.split("-", 1)
            start, end = _parse_time(start_text, rule), _parse_time(end_text, rule)
            if start == end:
                raise GalleryError(f"opening hours {rule!r}: opening and closing time are the same")
            day_set = _parse_days(days[0], rule) if days and days[0].strip() else frozenset(range(7))
            rules.append(Rule(day_set, start, end))
        return cls(tuple(rules))

    @property
    def always_open(self) -> bool:
        return not self.rules

    def is_open(self, when: datetime) -> bool:
        return self.always_open or any(rule.covers(when) for rule in self.rules)

    def next_change(self, when: datetime, horizon: timedelta = timedelta(days=8)) -> datetime | None:
        """The next minute at which `is_open` flips (None if it never does within `horizon`); for the log."""
        if self.always_open:
            return None
        state = self.is_open(when)
        t = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while t - when < horizon:
            if self.is_open(t) != state:
                return t
            t += timedelta(minutes=1)
        return None
