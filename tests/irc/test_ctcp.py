"""CTCP etiquette: VERSION/PING/TIME/CLIENTINFO answered by NOTICE to the asker, limited."""

from __future__ import annotations

import re
from typing import Any

from ntrbot.irc.ctcp import CtcpResponder, utc_time


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def responder(clock: Clock, **kw: Any) -> CtcpResponder:
    return CtcpResponder(version="ntrbot test", clock=clock, wall_clock=lambda: 0.0, **kw)


def test_answers_are_notices_to_the_asker() -> None:
    r = responder(Clock())
    assert r.answer("alice", "VERSION") == "NOTICE alice :\x01VERSION ntrbot test\x01"
    assert r.answer("alice", "ping", "1712345678 123") == \
        "NOTICE alice :\x01PING 1712345678 123\x01"
    assert r.answer("alice", "TIME") == "NOTICE alice :\x01TIME Thu, 01 Jan 1970 00:00:00 +0000\x01"
    assert r.answer("bob", "CLIENTINFO") == \
        "NOTICE bob :\x01CLIENTINFO CLIENTINFO PING TIME VERSION\x01"


def test_unknown_and_action_are_ignored() -> None:
    r = responder(Clock())
    for cmd in ("ACTION", "DCC", "FINGER", "USERINFO", "SOURCE", "", "X" * 300):
        assert r.answer("alice", cmd, "whatever") is None
    assert r.answered == 0


def test_ping_argument_is_cleaned_and_capped() -> None:
    r = responder(Clock())
    line = r.answer("alice", "PING", "a\r\nPRIVMSG #c :pwned\x01\x00" + "z" * 500)
    assert line is not None
    assert "\r" not in line and "\n" not in line and "\x00" not in line
    assert line.count("\x01") == 2 and len(line.encode()) < 120


def test_per_asker_and_global_limits() -> None:
    clock = Clock()
    r = responder(clock, per_asker_burst=3, per_asker_rate=0.1, global_burst=5,
                  global_rate=0.5)
    assert [bool(r.answer("alice", "PING", str(i))) for i in range(5)] == [
        True, True, True, False, False]
    assert [bool(r.answer("Bob", "PING", str(i))) for i in range(3)] == [True, True, False]
    assert r.answer("carol", "VERSION") is None  # everyone together: 5 at once
    assert r.answered == 5 and r.dropped == 4
    clock.now += 2  # one global token back; alice's own bucket is still empty
    assert r.answer("alice", "PING") is None
    assert r.answer("carol", "VERSION") is not None
    clock.now += 10
    assert r.answer("ALICE", "PING") is not None  # case-insensitive nick, refilled


def test_flood_budget_spent_drops_the_answer() -> None:
    r = CtcpResponder(may_send=lambda: False)
    assert r.answer("alice", "VERSION") is None and r.dropped == 1


def test_bad_asker_is_not_answered() -> None:
    r = responder(Clock())
    assert r.answer("evil nick", "VERSION") is None
    assert r.answer("", "VERSION") is None


def test_utc_time_format() -> None:
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", utc_time())
