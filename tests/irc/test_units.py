"""Flood bucket, backoff schedule and hostmask matching."""

from __future__ import annotations

import random

import irc.client
import irc.strings
import pytest

from ntrbot.irc.backoff import Backoff
from ntrbot.irc.flood import TokenBucket
from ntrbot.irc.hostmask import match, matches_any


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- flood -----------------------------------------------------------------

def test_bucket_burst_then_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=4, rate=1.0, clock=clock)
    assert [bucket.try_take() for _ in range(5)] == [True, True, True, True, False]
    assert bucket.delay() == pytest.approx(1.0)
    clock.now += 0.5
    assert not bucket.try_take()
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.try_take()
    assert not bucket.try_take()


def test_bucket_refills_to_burst_only() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=3, rate=2.0, clock=clock)
    for _ in range(3):
        bucket.try_take()
    clock.now += 3600
    assert bucket.tokens == 3
    assert sum(bucket.try_take() for _ in range(10)) == 3


def test_bucket_sustained_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=4, rate=2.0, clock=clock)
    sent = 0
    for _ in range(1000):  # 10 s in 10 ms steps
        if bucket.try_take():
            sent += 1
        clock.now += 0.01
    assert 4 + 19 <= sent <= 4 + 21


def test_bucket_ignores_clock_going_backwards() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=1, rate=1.0, clock=clock)
    bucket.try_take()
    clock.now -= 100
    assert bucket.delay() == pytest.approx(1.0)


@pytest.mark.parametrize("burst, rate", [(0, 1.0), (1, 0.0), (2, -1.0)])
def test_bucket_rejects_bad_settings(burst: int, rate: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(burst, rate)


# --- backoff ---------------------------------------------------------------

def test_backoff_schedule_bounds() -> None:
    b = Backoff(rng=random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    assert 1.0 <= delays[0] <= 2.0  # first retry within 2 s
    ceilings = [2, 2, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]  # three quick tries, then growing
    for d, c in zip(delays, ceilings, strict=True):
        assert c / 2 <= d <= c
    assert max(delays) <= 60


@pytest.mark.parametrize("seed", range(20))
def test_backoff_jitter_spreads(seed: int) -> None:
    b = Backoff(rng=random.Random(seed))
    assert 1.0 <= b.next_delay() <= 2.0


def test_backoff_jitter_is_random() -> None:
    firsts = {round(Backoff().next_delay(), 6) for _ in range(20)}
    assert len(firsts) > 1


def test_backoff_resets_after_stable_connection() -> None:
    clock = Clock()
    b = Backoff(stable_after=60, clock=clock, rng=random.Random(1))
    for _ in range(5):
        b.next_delay()
    b.connected()
    clock.now += 10
    b.disconnected()  # short-lived: keep growing
    assert b.attempt == 5
    b.connected()
    clock.now += 61
    b.disconnected()
    assert b.attempt == 0
    assert b.next_delay() <= 2.0


def outage(b: Backoff, failed_connects: int) -> list[float]:
    """The ceilings chosen for one outage: the drop, then `failed_connects` refused connects."""
    b.disconnected()
    ceilings = []
    for _ in range(failed_connects + 1):
        b.next_delay()
        assert b.last_ceiling is not None
        ceilings.append(b.last_ceiling)
    return ceilings


def test_backoff_starts_over_after_each_recovered_connection() -> None:
    """Eight server restarts in one evening: every one is retried at the first step."""
    clock = Clock()
    b = Backoff(first=2, cap=60, stable_after=60, clock=clock, rng=random.Random(3))
    b.connected()
    b.recovered()
    for _ in range(8):
        clock.now += 20  # minutes apart in real life; far less than stable_after here
        assert outage(b, failed_connects=2) == [2, 2, 2]  # the server is back within 3 tries
        b.connected()  # registered ...
        b.recovered()  # ... joined and a PONG or a confirmed line came back
        assert b.attempt == 0


def test_backoff_without_recovery_keeps_growing_flap_protection() -> None:
    """Connections that die during registration, or right after it, never reset it."""
    clock = Clock()
    b = Backoff(first=2, cap=60, stable_after=60, clock=clock, rng=random.Random(4))
    ceilings = []
    for i in range(8):
        if i % 2:
            b.connected()  # registered, but died before carrying traffic
            clock.now += 1
        ceilings += outage(b, failed_connects=0)
    assert ceilings == [2, 2, 2, 4, 8, 16, 32, 60]
    assert b.attempt == 8


def test_backoff_long_outage_grows_after_the_quick_tries() -> None:
    b = Backoff(first=2, cap=60, rng=random.Random(5))
    assert outage(b, failed_connects=7) == [2, 2, 2, 4, 8, 16, 32, 60]


def test_backoff_throttle_holds_the_next_attempt_and_doubles() -> None:
    clock = Clock()
    b = Backoff(first=2, cap=60, throttle_hold=5, clock=clock, rng=random.Random(6))
    waits = []
    for _ in range(5):
        hold = b.throttled()
        b.disconnected()
        waits.append(b.next_delay())
        assert waits[-1] == hold
    assert waits == [5, 10, 20, 40, 60]
    b.connected()
    b.recovered()
    assert b.throttles == 0 and b.next_delay() <= 2


def test_backoff_throttle_uses_the_servers_own_wait() -> None:
    b = Backoff(first=2, cap=60, rng=random.Random(7))
    assert b.throttled(90) == 90  # longer than the cap: the server's word wins
    assert b.next_delay() == 90
    assert b.next_delay() <= 2  # a hold applies to one attempt


def test_backoff_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Backoff(flat=0)
    with pytest.raises(ValueError):
        Backoff(throttle_hold=-1)


def test_backoff_long_outage_does_not_overflow() -> None:
    b = Backoff()
    b.attempt = 10_000
    assert 30 <= b.next_delay() <= 60


# --- hostmask ---------------------------------------------------------------

@pytest.mark.parametrize("pattern, mask, expected", [
    ("boss!*@*", "boss!~b@host.example", True),
    ("boss!*@*", "bossy!~b@host.example", False),
    ("BOSS!*@*", "boss!u@h", True),
    ("*!*@trusted.example", "anyone!x@trusted.example", True),
    ("*!*@trusted.example", "anyone!x@untrusted.example", False),
    ("*!*@*.trusted.example", "a!b@c.trusted.example", True),
    ("*!*@*.trusted.example", "a!b@trusted.example", False),
    ("nick?!*@*", "nick1!u@h", True),
    ("nick?!*@*", "nick12!u@h", False),
    ("n[a]!*@*", "n{a}!u@h", True),  # rfc1459 case mapping
    ("a.b!*@*", "aXb!u@h", False),  # dots are literal
    ("*", "x!y@z", True),
    ("boss", "boss!u@h", False),  # a bare nick is not a full mask
    ("", "boss!u@h", False),
])
def test_hostmask_match(pattern: str, mask: str, expected: bool) -> None:
    assert matches_any([pattern], mask) is expected


def test_regex_characters_are_literal() -> None:
    assert match("a+b!(x)@[h]", "a+b!(x)@{h}")
    assert not match("a+b!*@*", "aab!x@h")


def test_irc_strings_lower_folds_like_rfc1459() -> None:
    """jaraco's folding replaced a hand-written one: the same nicks and channels compare
    equal (the folded form of ^ and ~ differs, which nothing shows or stores)."""
    old = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
    chars = "AZaz09[]\\~{}|^-_`ÄäİıΣσς#&"
    for a in chars:
        for b in chars:
            same_old = a.translate(old).lower() == b.translate(old).lower()
            assert (irc.strings.lower(a) == irc.strings.lower(b)) is same_old, (a, b)
    assert irc.strings.lower("NiCk[]\\") == "nick{}|"
    assert irc.strings.lower("#Chan^~") == irc.strings.lower("#chan~^")


@pytest.mark.parametrize("pattern, mask", [
    ("Nick^!*@*", "nick~!u@h"), ("nick~!*@*", "NICK^!u@h"), ("a\\b!*@*", "A|B!u@h"),
])
def test_hostmask_folds_tilde_caret_and_backslash_pipe(pattern: str, mask: str) -> None:
    assert match(pattern, mask)


@pytest.mark.parametrize("name, channel", [
    ("#chan", True), ("&local", True), ("+modeless", True), ("!ABCDEsafe", True),
    ("nick", False), ("", False), ("[nick]", False),
])
def test_is_channel_is_jaraco_s(name: str, channel: bool) -> None:
    assert bool(irc.client.is_channel(name)) is channel
