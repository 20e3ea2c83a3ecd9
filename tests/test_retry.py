"""ntrbot.retry: the exponential schedule and the one Retry-After parser."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ntrbot.retry import Schedule, parse_retry_after

NOW = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "steps", "expected"), [
    (Schedule(1.0, 2.0, 30.0), range(7), [1, 2, 4, 8, 16, 30, 30]),  # webhooks
    (Schedule(30.0, 2.0, 480.0), range(7), [30, 60, 120, 240, 480, 480, 480]),  # poller
    (Schedule(0.5, 2.0, 30.0), range(4), [0.5, 1, 2, 4]),  # SoundCloud
    (Schedule(2.0, 3.0), range(4), [2, 6, 18, 54]),  # no cap
    (Schedule(5.0, 1.0, 60.0), range(3), [5, 5, 5]),  # factor 1: flat
    (Schedule(0.0, 2.0, 60.0), range(3), [0, 0, 0]),
    (Schedule(10.0, 2.0, 4.0), range(2), [4, 4]),  # first above the cap: the cap
    (Schedule(1.0, 2.0, 30.0), [-3, -1], [1, 1]),  # before the first step: the first
])
def test_schedule_ceilings(schedule: Schedule, steps: range | list[int],
                           expected: list[float]) -> None:
    got = [schedule.ceiling(n) for n in steps]
    assert got == expected and all(isinstance(x, float) for x in got)


@pytest.mark.parametrize("step", [64, 1_024, 10_000, 10 ** 9, 10 ** 400])
@pytest.mark.parametrize("factor", [2.0, 1.5, 1e6])
def test_huge_steps_give_the_cap_without_overflow(step: int, factor: float) -> None:
    assert Schedule(2.0, factor, 60.0).ceiling(step) == 60.0
    uncapped = Schedule(2.0, factor).ceiling(step)  # huge or infinite, but no error
    assert uncapped > 1e10 and (step < 10_000 or uncapped == math.inf)


@pytest.mark.parametrize("seed", range(10))
def test_jitter_stays_within_its_share_of_the_ceiling(seed: int) -> None:
    schedule = Schedule(2.0, 2.0, 60.0, jitter=0.5, rng=random.Random(seed))
    for step in range(10):
        top = schedule.ceiling(step)
        assert top / 2 <= schedule.delay(step) <= top


def test_jitter_draws_from_the_injected_rng() -> None:
    def delays(seed: int) -> list[float]:
        schedule = Schedule(2.0, 2.0, 60.0, jitter=1.0, rng=random.Random(seed))
        return [schedule.delay(n) for n in range(5)]

    assert delays(3) == delays(3) != delays(4)
    assert Schedule(2.0, 2.0, 60.0).delay(3) == 16.0  # no jitter: the ceiling itself


@pytest.mark.parametrize("kwargs", [
    {"first": -1.0}, {"first": 1.0, "factor": 0.5}, {"first": 1.0, "cap": -1.0},
    {"first": 1.0, "jitter": 1.5}, {"first": 1.0, "jitter": -0.1}, {"first": math.nan},
])
def test_schedule_rejects_bad_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Schedule(**kwargs)


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7.0),
    (" 7 ", 7.0),
    ("0", 0.0),
    ("0.25", 0.25),  # Discord's fractional seconds
    (2.5, 2.5),  # a JSON number (Discord's body `retry_after`)
    (3, 3.0),
    (0, 0.0),
    ("Fri, 13 Mar 2026 18:00:30 GMT", 30.0),  # HTTP-date, IMF-fixdate
    ("Friday, 13-Mar-26 18:01:00 GMT", 60.0),  # HTTP-date, obsolete RFC 850 form
    ("Fri, 13 Mar 2026 19:00:30 +0100", 30.0),  # with an offset
    ("Fri, 13 Mar 2026 18:00:30 -0000", 30.0),  # no zone given: UTC
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # a date already past: now
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_forms(value: object, expected: float) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize("value", [
    None, "", "   ", "soon", "-5", "-0.5", -1, -0.1, "nan", "NaN", math.nan, "inf",
    "Infinity", math.inf, -math.inf, "1e3", "0x10", "+5", "5 s", "7, 8", "1_000", True, False,
    "Fri, 32 Mar 2026 18:00:30 GMT", "Fri, 13 Foo 2026 18:00:30 GMT", b"7", [7], {"s": 7},
    "٣",  # a non-ASCII digit
])
def test_retry_after_garbage_is_none(value: object) -> None:
    assert parse_retry_after(value, now=NOW, cap=120.0) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("100000", 120.0),
    ("120", 120.0),
    ("119.5", 119.5),
    ("9" * 5000, 120.0),  # longer than int() takes: still just the cap
    (1e300, 120.0),
    (10 ** 400, 120.0),  # a JSON integer too big for a float
    ("Sat, 01 Jan 9999 00:00:00 GMT", 120.0),
    ("Fri, 13 Mar 2026 18:10:00 GMT", 120.0),
])
def test_retry_after_is_capped(value: object, expected: float) -> None:
    assert parse_retry_after(value, now=NOW, cap=120.0) == expected


def test_retry_after_without_a_cap_keeps_long_waits() -> None:
    assert parse_retry_after("100000") == 100000.0
    assert parse_retry_after("9" * 5000) == math.inf


def test_retry_after_date_is_measured_from_the_current_time_by_default() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=100)
    wait = parse_retry_after(soon.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert wait is not None and 0 < wait <= 100
