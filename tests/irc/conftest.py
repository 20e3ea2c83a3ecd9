"""Fixtures for the IRC tests: fake bot services, settings and a started IrcClient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ntrbot.config import Settings, validate
from ntrbot.irc.backoff import Backoff
from ntrbot.irc.client import IrcClient
from ntrbot.irc.commands import CommandHandler
from ntrbot.models import Show, ShowTrack, Track

CHANNEL = "#sewerchat"
T0 = datetime(2026, 3, 11, 22, 0, tzinfo=UTC)


def make_show(show_id: int, titles: list[str], episode: int | None = None) -> Show:
    tracks = [
        ShowTrack(i, Track(id=1000 * show_id + i, title=title, artist=f"Artist {i}",
                           permalink_url=f"https://soundcloud.com/a{i}/t{i}"),
                  T0 + timedelta(minutes=i))
        for i, title in enumerate(titles, start=1)
    ]
    return Show(show_id, T0 - timedelta(days=7 * (2 - show_id)),
                T0 + timedelta(days=7 * (show_id - 1)), episode, tracks)


class FakeServices:
    """BotServices over in-memory shows; records announce/refresh calls."""

    def __init__(self) -> None:
        self.current: Show | None = make_show(2, ["First", "Second", "Third"], episode=42)
        self.previous: Show | None = make_show(1, ["Old one", "Old two"], episode=41)
        self.playing: tuple[Show, ShowTrack, datetime] | None = None
        self.url: str | None = "https://ntr.example/playlist"
        self.announced: list[tuple[int, str]] = []
        self.refreshed = 0
        self.fail: Exception | None = None

    async def current_show(self) -> Show | None:
        if self.fail:
            raise self.fail
        return self.current

    async def previous_show(self) -> Show | None:
        return self.previous

    async def now_playing(self) -> tuple[Show, ShowTrack, datetime] | None:
        return self.playing

    async def announce(self, position: int, who: str) -> str:
        self.announced.append((position, who))
        return f"Announced #{position}"

    async def refresh(self) -> str:
        self.refreshed += 1
        return "Refreshed: 3 tracks"

    def playlist_url(self, show: Show) -> str | None:
        return self.url


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


def irc_settings(server: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "admin_token": "x" * 32, "irc_server": server.host, "irc_port": server.port,
        "irc_nick": "ntrbot", "irc_channels": (CHANNEL,), "announce_channel": CHANNEL,
        "irc_admins": ("boss!*@*",), "irc_flood_burst": 10, "irc_flood_rate": 20.0,
    }
    values.update(overrides)
    settings = Settings(**values)
    validate(settings)
    return settings


def fast_backoff() -> Backoff:
    return Backoff(first=0.2, cap=0.5, stable_after=5.0)


@pytest.fixture
async def make_bot() -> AsyncIterator[Callable[..., IrcClient]]:
    """make_bot(settings, services=None, **client_kwargs) -> started IrcClient."""
    bots: list[IrcClient] = []

    async def make(settings: Settings, services: FakeServices | None = None,
                   **kwargs: Any) -> IrcClient:
        commands = CommandHandler(services, settings.irc_admins) if services else None
        kwargs.setdefault("backoff", fast_backoff())
        bot = IrcClient(settings, commands, **kwargs)
        await bot.start()
        bots.append(bot)
        return bot

    yield make  # type: ignore[misc]
    for bot in bots:
        await asyncio.wait_for(bot.stop(), 20)


async def wait_until(cond: Callable[[], bool], timeout: float = 20.0,
                     what: str = "condition") -> None:
    """Poll `cond` until true (bounded wait; never a wall-clock assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
