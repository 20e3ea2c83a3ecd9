"""Fixtures for the reliability tests: the in-process app against the api-v2 stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ntrbot.app import create_app
from ntrbot.settings import Settings
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.reliability import InProcess


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud() as sc:
        yield sc


@pytest.fixture
def make_inprocess(aiohttp_client: Any) -> Callable[..., Any]:
    """make(settings, start_poller=False) -> InProcess, served by pytest-aiohttp."""
    async def make(settings: Settings, *, start_poller: bool = False) -> InProcess:
        app = create_app(settings, start_poller=start_poller)
        return InProcess(app, await aiohttp_client(app))
    return make
