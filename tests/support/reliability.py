"""Reliability test helpers: this week's likes, settings, the app in-process or threaded."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.config_checks import validate
from ntrbot.settings import Settings
from ntrbot.soundcloud.client import SoundCloudClient
from tests.support.constants import ADMIN_TOKEN, BEARER
from tests.support.fake_soundcloud import FakeSoundCloud, make_like


def show_week_env(now: datetime | None = None) -> dict[str, str]:
    """NTR_ settings that make the current show week start 3 days ago at 00:00 UTC."""
    now = now or datetime.now(UTC)
    return {"NTR_SHOW_TIMEZONE": "UTC", "NTR_SHOW_DAY": str((now - timedelta(days=3)).weekday()),
            "NTR_SHOW_HOUR": "0"}


def week_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)


def sample_likes(count: int = 5, *, first_id: int = 100) -> list[dict[str, Any]]:
    """`count` likes in the current week and two in the week before."""
    start = week_start()
    likes = [make_like(first_id + i, start + timedelta(hours=1 + i), title=f"Track {i + 1}",
                       artist=f"Artist {i + 1}") for i in range(count)]
    likes += [make_like(first_id + 50 + i, start - timedelta(days=2, hours=i),
                        title=f"Old {i + 1}") for i in range(2)]
    return likes


@dataclass
class InProcess:
    """The whole app on a loopback TestServer, plus handy calls."""

    app: web.Application
    client: TestClient[Any, Any]

    async def refresh(self) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post("/admin/refresh", headers=BEARER)
        return resp.status, await resp.json()

    async def health(self) -> dict[str, Any]:
        resp = await self.client.get("/health")
        assert resp.status == 200
        health: dict[str, Any] = await resp.json()
        return health

    async def titles(self) -> list[str]:
        resp = await self.client.get("/playlist")
        assert resp.status == 200
        return [t["title"] for t in (await resp.json())["tracks"]]

    async def all_shows(self) -> list[dict[str, Any]]:
        resp = await self.client.get("/shows", params={"limit": "100"})
        out = []
        for s in (await resp.json())["shows"]:
            out.append(await (await self.client.get(f"/shows/{s['id']}")).json())
        return out


def app_settings(tmp_path: Path, fake: FakeSoundCloud | None, **overrides: Any) -> Settings:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN, "db_path": str(tmp_path / "ntrbot.db"),
        "show_timezone": "UTC", "show_day": (now - timedelta(days=3)).weekday(), "show_hour": 0,
    }
    if fake is not None:
        values.update(soundcloud_api_base=fake.api_base, soundcloud_web_base=fake.web_base)
    values.update(overrides)
    settings = Settings(**values)
    validate(settings)
    return settings


def fast_soundcloud(app: web.Application, *, timeout: float = 0.5, retries: int = 1) -> None:
    """Short HTTP timeout, few retries and no backoff wait, so failing polls end quickly."""
    import httpx

    app[keys.HTTP].timeout = httpx.Timeout(timeout)
    # the in-process app's SoundCloud is the real client (not the demo's sample data)
    sc = cast(SoundCloudClient, app[keys.SOUNDCLOUD])
    sc.max_retries = retries
    sc.backoff_base = 0.01
    sc.max_retry_after = 0.2


class ServerErrors(logging.Handler):
    """Collects ERROR records (unexpected exceptions in handlers, aiohttp's own errors)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        out = [f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in self.records]
        self.records.clear()
        return out


class ThreadedApp:
    """The whole app served from its own thread and event loop, for sync (hypothesis) tests."""

    def __init__(self, settings_for: Callable[[FakeSoundCloud], Settings],
                 likes: list[dict[str, Any]]) -> None:
        self._settings_for = settings_for
        self._likes = likes
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ntrbot-under-test",
                                       daemon=True)
        self.base_url = ""
        self.app: web.Application | None = None
        self.errors = ServerErrors()
        self._runner: web.AppRunner | None = None
        self._fake: FakeSoundCloud | None = None

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self._fake = await FakeSoundCloud(likes=self._likes).start()
        self.app = create_app(self._settings_for(self._fake), start_poller=False)
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        fast_soundcloud(self.app)
        await self.app[keys.POLLER].poll_now()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._fake is not None:
            await self._fake.close()

    def start(self) -> ThreadedApp:
        logging.getLogger().addHandler(self.errors)
        self.thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            logging.getLogger().removeHandler(self.errors)
