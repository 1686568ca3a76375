"""Deadlines count working days in England and Wales, or plain seconds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.config import Duration
from shared.workdays import add_working_days, deadline, is_working_day


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 24), 1, date(2026, 11, 25)),  # Tuesday -> Wednesday
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Friday -> Monday
        (date(2026, 11, 28), 1, date(2026, 11, 30)),  # Saturday -> Monday
        (date(2026, 11, 29), 1, date(2026, 11, 30)),  # Sunday -> Monday
        (date(2026, 11, 23), 5, date(2026, 11, 30)),  # a full week
        (date(2026, 11, 23), 10, date(2026, 12, 7)),  # two weeks
        # Christmas Day (Friday), then Boxing Day on a Saturday is observed on Monday 28 December.
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        (date(2026, 12, 24), 2, date(2026, 12, 30)),
        # New Year's Day 2027 is a Friday, across the turn of the year.
        (date(2026, 12, 31), 1, date(2027, 1, 4)),
        # Easter 2027: Good Friday 26 March and Easter Monday 29 March.
        (date(2027, 3, 25), 1, date(2027, 3, 30)),
        (date(2027, 3, 24), 3, date(2027, 3, 31)),
        # Early May bank holiday, Monday 4 May 2026.
        (date(2026, 5, 1), 1, date(2026, 5, 5)),
    ],
)
def test_adding_working_days_skips_weekends_and_bank_holidays(start, days, expected):
    assert add_working_days(at_nine(start), days) == at_nine(expected)


def test_adding_working_days_keeps_the_time_of_day_and_zone():
    start = datetime(2026, 11, 24, 16, 45, 12, tzinfo=UTC)
    result = add_working_days(start, 3)
    assert (result.hour, result.minute, result.second, result.tzinfo) == (16, 45, 12, UTC)


def test_adding_no_working_days_is_the_start_itself():
    start = at_nine(date(2026, 11, 28))  # a Saturday
    assert add_working_days(start, 0) == start


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2027, 3, 30), True),
        (date(2026, 12, 25), False),  # Christmas Day
        (date(2026, 12, 28), False),  # Boxing Day (observed)
        (date(2026, 8, 31), False),  # Summer bank holiday (England, not Scotland)
        (date(2026, 8, 3), True),  # Scotland's summer bank holiday is a working day in England
        (date(2026, 3, 17), True),  # St Patrick's Day is a holiday in Northern Ireland only
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 11, 30), True),
    ],
)
def test_a_working_day_is_a_weekday_that_is_not_an_england_and_wales_bank_holiday(day, working):
    assert is_working_day(day) is working


def test_a_deadline_in_days_counts_working_days():
    start = at_nine(date(2026, 12, 24))
    assert deadline(start, Duration(2, "d")) == at_nine(date(2026, 12, 30))


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200)])
def test_a_deadline_in_seconds_is_wall_clock_time_even_over_a_weekend(text, seconds):
    start = datetime(2026, 11, 27, 23, 59, 50, tzinfo=UTC)  # Friday night
    assert deadline(start, Duration.parse(text)) == start + timedelta(seconds=seconds)


def test_before_counts_working_days_back_and_seconds_plainly() -> None:
    from datetime import UTC, datetime

    from shared.config import Duration
    from shared.workdays import before

    # Tuesday 29 December 2026, 10:00: two working days back skips Monday 28th (Boxing Day, moved),
    # Friday 25th (Christmas) and the weekend, and lands on Wednesday 23rd.
    due = datetime(2026, 12, 29, 10, 0, tzinfo=UTC)
    assert before(due, Duration(2, "d")) == datetime(2026, 12, 23, 10, 0, tzinfo=UTC)
    assert before(due, Duration(30, "s")) == datetime(2026, 12, 29, 9, 59, 30, tzinfo=UTC)
