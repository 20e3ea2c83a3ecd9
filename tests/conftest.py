"""Shared fixtures: settings, a database, and the app under an in-process test server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ntrbot.config import Settings, validate
from ntrbot.db import Database
from ntrbot.weeks import ShowClock

pytest_plugins = [p for p in ("tests.support.ircd", "tests.support.tcpproxy")
                  if (Path(__file__).parent / "support" / (p.rsplit(".", 1)[1] + ".py")).exists()]

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
# A Thursday inside an NtR show week (show: Wednesdays 22:00 America/New_York).
FROZEN_NOW = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)

# Never let the developer's own NTR_ variables leak into tests.
for _name in [n for n in os.environ if n.startswith("NTR_")]:
    del os.environ[_name]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
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
    return lambda: FROZEN_NOW


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[[web.Application], Any]]:
    """Start an app on a loopback TestServer; returns an aiohttp TestClient."""
    clients: list[TestClient[Any, Any]] = []

    async def make(app: web.Application) -> TestClient[Any, Any]:
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        await client.close()
