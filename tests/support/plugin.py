"""The tests' pytest plugin: settings, a database, the clock, FakeIrc and the app factory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiohttp import web

from ntrbot.app import create_app
from ntrbot.config_checks import validate
from ntrbot.irc.backend import IrcBackend
from ntrbot.settings import Settings
from ntrbot.soundcloud.client import SoundCloudApi
from ntrbot.store.db import Database
from ntrbot.weeks import ShowClock
from tests.support.constants import ADMIN_TOKEN, FROZEN_NOW
from tests.support.fakes import FakeIrc
from tests.support.memory_soundcloud import MemorySoundCloud
from tests.support.seed import OLD_LIKE

pytest_plugins = ["tests.support.ircd", "tests.support.live", "tests.support.tcpproxy"]

# Never let the developer's own NTR_ variables leak into tests.
for _name in [n for n in os.environ if n.startswith("NTR_")]:
    del os.environ[_name]


class MakeApp(Protocol):
    def __call__(self, settings: Settings, irc: IrcBackend | None = None, *,
                 soundcloud: SoundCloudApi | None = None,
                 now: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> web.Application: ...


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """make_settings(**overrides): validated Settings with ADMIN_TOKEN and a temp database."""
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"admin_token": ADMIN_TOKEN,
                                  "db_path": str(tmp_path / "ntrbot.db")}
        values.update(overrides)
        settings = Settings(**values)
        validate(settings)
        return settings
    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def clock(settings: Settings) -> ShowClock:
    return ShowClock(settings.show_day, settings.show_hour, settings.tz)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database.open(settings.db_path, settings.tz)
    yield database
    await database.close()


@pytest.fixture
def now() -> Callable[[], datetime]:
    """The frozen clock: always FROZEN_NOW."""
    return lambda: FROZEN_NOW


@pytest.fixture
def irc() -> FakeIrc:
    return FakeIrc()


@pytest.fixture
def make_app() -> MakeApp:
    """make_app(settings, irc=None, *, soundcloud=None, now=None, sleep=None): `create_app`
    for a test.

    `irc` None is the IRC of `settings` (off in tests); SoundCloud defaults to a
    MemorySoundCloud holding one old like; the clock to FROZEN_NOW; the announcer's sleep
    to asyncio.sleep (tests.support.faketime.FakeTime gives one moved by hand); no poller.
    Serve the app with pytest-aiohttp's `aiohttp_client(app)`.
    """
    def make(settings: Settings, irc: IrcBackend | None = None, *,
             soundcloud: SoundCloudApi | None = None,
             now: Callable[[], datetime] | None = None,
             sleep: Callable[[float], Awaitable[None]] | None = None) -> web.Application:
        return create_app(settings, irc=irc,
                          soundcloud=soundcloud or MemorySoundCloud([OLD_LIKE]),
                          now=now or (lambda: FROZEN_NOW), sleep=sleep or asyncio.sleep,
                          start_poller=False)
    return make
