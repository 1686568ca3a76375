"""Deadlines: working days with England and Wales bank holidays excluded, or plain seconds for tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from shared.config import Duration


@lru_cache(maxsize=16)
def _bank_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The same time of day `days` working days after `start` (weekends and bank holidays skipped).

    A negative `days` counts back: `add_working_days(due, -2)` is two working days before `due`.
    """
    current = start
    step = timedelta(days=1 if days >= 0 else -1)
    remaining = abs(days)
    while remaining > 0:
        current += step
        if is_working_day(current.date()):
            remaining -= 1
    return current


def deadline(start: datetime, duration: Duration) -> datetime:
    if duration.unit == "s":
        return start + timedelta(seconds=duration.amount)
    return add_working_days(start, duration.amount)


def before(due: datetime, duration: Duration) -> datetime:
    """The time `duration` before `due`: when to remind someone of a deadline."""
    if duration.unit == "s":
        return due - timedelta(seconds=duration.amount)
    return add_working_days(due, -duration.amount)


def working_days_left(now: datetime, due: datetime) -> int:
    """Whole working days from `now` until `due`: 0 on the day it is due (or after), as a person counts them."""
    if due <= now:
        return 0
    day, end, count = now.date(), due.date(), 0
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count
