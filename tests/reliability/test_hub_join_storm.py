"""Many compat bots (re)subscribing at once, e.g. after ntrbot restarts: nobody is dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ntrbot import keys
from tests.support.constants import ADMIN_TOKEN
from tests.support.net import wait_until
from tests.support.reliability import app_settings

pytestmark = pytest.mark.timeout(60)
SUBSCRIBERS = 400


async def test_a_burst_of_subscribers_all_stay_subscribed(
        tmp_path: Path, make_inprocess: Callable[..., Any]) -> None:
    bot = await make_inprocess(app_settings(tmp_path, None))
    url = str(bot.client.make_url("/ws/announce"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def subscribe(i: int) -> aiohttp.ClientWebSocketResponse:
            # many bot hosts (ntrbot admits 20 unsubscribed sockets per client address)
            ws = await http.ws_connect(
                url, headers={"X-Forwarded-For": f"10.0.{i // 200}.{i % 200 + 1}"})
            await ws.send_str(json.dumps({"type": "subscribe", "token": ADMIN_TOKEN}))
            return ws

        sockets = await asyncio.gather(*(subscribe(i) for i in range(SUBSCRIBERS)))

        async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for _ in ws:
                pass
        readers = [asyncio.create_task(drain(ws)) for ws in sockets]
        hub = bot.app[keys.HUB]
        try:
            await wait_until(lambda: hub.subscribers >= SUBSCRIBERS
                             or sum(ws.closed for ws in sockets) > 0, timeout=20)
            await asyncio.sleep(0.5)
            assert sum(ws.closed for ws in sockets) == 0
            assert hub.subscribers == SUBSCRIBERS
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
