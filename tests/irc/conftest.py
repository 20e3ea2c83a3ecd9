"""Fixtures for the IRC tests: fake bot services and a started IrcClient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ntrbot.irc.client import IrcClient
from ntrbot.irc.commands import CommandHandler
from ntrbot.settings import Settings
from tests.support.irc_services import FakeServices, MakeBot, fast_backoff


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
async def make_bot() -> AsyncIterator[MakeBot]:
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

    yield make
    for bot in bots:
        await asyncio.wait_for(bot.stop(), 20)
