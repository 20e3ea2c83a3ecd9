"""Replayed history (playback batches, old server-time) never gets a command reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ntrbot.irc.replay import ReplayFilter, replay_reason, server_time, track_batch
from tests.support.fakeircd import FakeIrcd
from tests.support.irc_services import CHANNEL, FakeServices, MakeBot, irc_settings
from tests.support.net import wait_until


def test_server_time_parsing() -> None:
    assert server_time("1970-01-01T00:01:00.000Z") == 60.0
    assert server_time("garbage") is None and server_time(None) is None
    assert server_time("2026-01-01T00:00:00") is None  # no zone: not trusted


def test_replay_reason_batches_and_age() -> None:
    batches: dict[str, str] = {}
    track_batch(batches, "+a", ["znc.in/playback", CHANNEL], [])
    track_batch(batches, "+b", ["draft/multiline", CHANNEL], [{"key": "batch", "value": "a"}])
    track_batch(batches, "+c", ["netsplit"], [])
    assert "znc.in/playback" in (replay_reason([{"key": "batch", "value": "b"}], batches) or "")
    assert replay_reason([{"key": "batch", "value": "c"}], batches) is None
    track_batch(batches, "-a", [], [])
    assert replay_reason([{"key": "batch", "value": "a"}], batches) is None
    old = [{"key": "time", "value": "1970-01-01T00:00:00.000Z"}]
    assert replay_reason(old, {}, now=61.0) is not None
    assert replay_reason(old, {}, now=59.0) is None
    assert replay_reason(None, {}) is None


@pytest.fixture
async def fake() -> AsyncIterator[FakeIrcd]:
    server = await FakeIrcd().start()
    yield server
    await server.close()


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


async def test_replayed_commands_get_no_reply(fake: FakeIrcd, make_bot: MakeBot,
                                              services: FakeServices) -> None:
    fake.caps = "batch server-time message-tags"
    bot = await make_bot(irc_settings(fake), services)
    await wait_until(lambda: CHANNEL in bot.status().channels, 20, "join")
    conn = fake.conns[0]
    who = ":x!y@z PRIVMSG #sewerchat :"
    conn.send(f":fake BATCH +h1 chathistory {CHANNEL}")
    conn.send(f"@batch=h1;time=2026-01-01T00:00:00.000Z {who}!song 1")
    conn.send(f"@batch=h1 {who}!song 2")
    conn.send(":fake BATCH -h1")
    conn.send(f":fake BATCH +z9 znc.in/playback {CHANNEL}")
    conn.send(f"@batch=z9 {who}!song 3")
    conn.send(":fake BATCH -z9")
    conn.send(f"@time=2020-05-05T10:00:00.000Z {who}!np")  # old: a bouncer's buffer
    conn.send(f"@time={stamp(datetime.now(UTC))} {who}!song 2")  # fresh: answered

    def replies() -> list[str]:
        return [m.params[-1] for m in conn.received if m.command == "PRIVMSG"]
    await fake.wait(lambda: any(r.startswith("Song #2") for r in replies()))
    conn.send(f"{who}!song 1")  # no tags at all: answered
    await fake.wait(lambda: any(r.startswith("Song #1") for r in replies()))
    await asyncio.sleep(0.2)
    assert [r.split(":")[0] for r in replies()] == ["Song #2", "Song #1"]


def test_replay_filter_learns_the_server_clock_skew() -> None:
    now = [100_000.0]
    f = ReplayFilter(clock=lambda: now[0])
    hour_behind = [{"key": "time", "value": "1970-01-02T02:46:40.000Z"}]  # 96400 = now-3600
    assert f.reason(hour_behind) is not None  # skew unknown: an hour old
    f.live(hour_behind)  # 001 carried that time: the server clock is an hour behind
    assert f.reason(hour_behind) is None
    assert f.reason([{"key": "time", "value": "1970-01-02T02:45:00.000Z"}]) is not None
    f.reset()
    assert f.skew == 0.0 and f.batches == {}


async def test_server_clock_behind_does_not_deafen_the_bot(fake: FakeIrcd, make_bot: MakeBot,
                                                           services: FakeServices) -> None:
    behind = datetime.now(UTC) - timedelta(hours=1)
    fake.caps = "server-time"
    fake.welcome_tags = f"time={stamp(behind)}"
    bot = await make_bot(irc_settings(fake), services)
    await wait_until(lambda: CHANNEL in bot.status().channels, 20, "join")
    conn = fake.conns[0]
    conn.send(f"@time={stamp(behind - timedelta(minutes=5))} :x!y@z PRIVMSG #sewerchat :!song 3")
    conn.send(f"@time={stamp(behind)} :x!y@z PRIVMSG #sewerchat :!song 2")

    def replies() -> list[str]:
        return [m.params[-1] for m in conn.received if m.command == "PRIVMSG"]
    await fake.wait(lambda: any(r.startswith("Song #2") for r in replies()))
    await asyncio.sleep(0.2)
    assert [r.split(":")[0] for r in replies()] == ["Song #2"]
