"""Show weeks: boundaries in local time, DST-correct, and the live window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntrbot.weeks import ShowClock

NY = ZoneInfo("America/New_York")
CLOCK = ShowClock(day=2, hour=22, tz=NY, length=timedelta(hours=5))


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(UTC)


@pytest.mark.parametrize(("t", "start", "end"), [
    # March: DST starts Sunday 2026-03-08; the week spanning it is 167 hours long.
    ("2026-03-08T12:00:00+00:00", "2026-03-04T22:00:00-05:00", "2026-03-11T22:00:00-04:00"),
    ("2026-03-12T01:59:59+00:00", "2026-03-04T22:00:00-05:00", "2026-03-11T22:00:00-04:00"),
    ("2026-03-12T02:00:00+00:00", "2026-03-11T22:00:00-04:00", "2026-03-18T22:00:00-04:00"),
    # November: DST ends Sunday 2026-11-01; that week is 169 hours long.
    ("2026-10-29T02:00:00+00:00", "2026-10-28T22:00:00-04:00", "2026-11-04T22:00:00-05:00"),
    ("2026-11-05T02:59:59+00:00", "2026-10-28T22:00:00-04:00", "2026-11-04T22:00:00-05:00"),
    ("2026-11-05T03:00:00+00:00", "2026-11-04T22:00:00-05:00", "2026-11-11T22:00:00-05:00"),
])
def test_week_boundaries_across_dst(t: str, start: str, end: str) -> None:
    s, e = CLOCK.week_of(utc(t))
    assert (s.isoformat(), e.isoformat()) == (start, end)


def test_dst_weeks_have_real_lengths() -> None:
    s, e = CLOCK.week_of(utc("2026-03-08T12:00:00+00:00"))
    assert e.astimezone(UTC) - s.astimezone(UTC) == timedelta(hours=167)
    s, e = CLOCK.week_of(utc("2026-11-01T12:00:00+00:00"))
    assert e.astimezone(UTC) - s.astimezone(UTC) == timedelta(hours=169)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)),
       st.integers(0, 6), st.integers(0, 23),
       st.sampled_from(["America/New_York", "Europe/London", "Australia/Sydney", "UTC"]))
def test_week_contains_time_and_chains(t: datetime, day: int, hour: int, zone: str) -> None:
    clock = ShowClock(day, hour, ZoneInfo(zone))
    start, end = clock.week_of(t)
    assert start <= t < end
    assert start.astimezone(clock.tz).weekday() == day
    assert clock.week_of(end)[0] == end
    assert clock.previous_week(start)[1] == start
    assert clock.week_of(clock.previous_week(start)[0])[0] == clock.previous_week(start)[0]


def test_live_window() -> None:
    start = utc("2026-03-12T02:00:00+00:00")  # Wed 22:00 EDT
    assert CLOCK.is_live(start)
    assert CLOCK.is_live(start + timedelta(hours=4, minutes=59))
    assert not CLOCK.is_live(start + timedelta(hours=5))
    assert not CLOCK.is_live(start - timedelta(seconds=1))
    assert CLOCK.next_live_start(start - timedelta(hours=1)) == start
