"""IRC client test helpers: in-memory bot services over two shows, settings for a server, a
joined bot and a raw user in the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ntrbot.config_checks import validate
from ntrbot.irc.backoff import Backoff
from ntrbot.irc.client import IrcClient
from ntrbot.settings import Settings
from ntrbot.store.models import Show, ShowTrack, Track
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc

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


class MakeBot(Protocol):
    """The `make_bot` fixture (tests/irc/conftest.py): a started IrcClient."""

    async def __call__(self, settings: Settings, services: FakeServices | None = None,
                       **kwargs: Any) -> IrcClient: ...


def fast_backoff() -> Backoff:
    return Backoff(first=0.2, cap=0.5, stable_after=5.0)


class RecordingBackoff(Backoff):
    """The product's Backoff, noting the ceiling of every delay it chose."""

    def __init__(self, **kwargs: float) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ceilings: list[float] = []

    def next_delay(self) -> float:
        delay = super().next_delay()
        assert self.last_ceiling is not None
        self.ceilings.append(self.last_ceiling)
        return delay


def in_channel(bot: IrcClient) -> bool:
    return bot.registered and CHANNEL in bot.status().channels


async def joined_bot(server: Any, make_bot: MakeBot, services: FakeServices,
                     **kw: Any) -> IrcClient:
    """make_bot against ``server`` (settings=... overrides irc_settings), once it is in CHANNEL."""
    bot = await make_bot(irc_settings(server, **kw.pop("settings", {})), services, **kw)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    return bot


@asynccontextmanager
async def channel_user(server: Any, nick: str, channel: str = CHANNEL) -> AsyncIterator[RawIrc]:
    """A raw client ``nick`` connected to ``server`` and joined to ``channel``; closed after."""
    user = await RawIrc.connect(server.host, server.port, nick)
    try:
        await user.join(channel)
        yield user
    finally:
        await user.close()
