"""The composition root's start-up and shutdown order, and a failed start undone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from ntrbot.announcing.announcer import Announcer
from ntrbot.settings import Settings
from tests.support.fakes import FakeIrc


class RecordingIrc(FakeIrc):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def start(self) -> None:
        self.log.append("irc start")

    async def stop(self, message: str = "") -> None:
        self.log.append("irc stop")


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    log: list[str] = []
    real_start, real_close = Announcer.start, Announcer.close

    async def start(self: Announcer) -> None:
        log.append("announcer start")
        await real_start(self)

    async def close(self: Announcer) -> None:
        log.append("announcer close")
        await real_close(self)

    monkeypatch.setattr(Announcer, "start", start)
    monkeypatch.setattr(Announcer, "close", close)
    return log


async def _run(app: web.Application) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()


async def test_irc_starts_before_the_announcer_and_stops_after_it(
        settings: Settings, make_app: Callable[..., web.Application], steps: list[str]) -> None:
    await _run(make_app(settings, RecordingIrc(steps)))
    assert steps == ["irc start", "announcer start", "announcer close", "irc stop"]


async def test_a_failed_announcer_start_still_stops_irc(
        settings: Settings, make_app: Callable[..., web.Application], steps: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Any) -> None:
        steps.append("announcer start")
        raise RuntimeError("database gone")

    monkeypatch.setattr(Announcer, "start", broken)
    runner = web.AppRunner(make_app(settings, RecordingIrc(steps)))
    with pytest.raises(RuntimeError, match="database gone"):
        await runner.setup()
    await runner.cleanup()
    assert steps == ["irc start", "announcer start", "irc stop"]
