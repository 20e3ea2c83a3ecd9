"""ircd-hybrid 8's stock reconnect throttle, and the bot against it (its ops and opers:
test_server_harness.py)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import pytest

from tests.support.irc_services import CHANNEL, MakeBot, RecordingBackoff, in_channel, irc_settings
from tests.support.ircd import IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc
from tests.support.tcpproxy import MakeProxy

pytestmark = pytest.mark.hybrid


async def test_stock_throttle_refuses_a_quick_reconnect(
        ircd_factory: Callable[..., IrcServer]) -> None:
    server = ircd_factory("hybrid", throttle=True)
    first = await RawIrc.connect(server.host, server.port, "first")
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        line = await asyncio.wait_for(reader.readline(), 10)
        assert re.search(rb"^ERROR :.*\(re\)connect too fast", line), line
        writer.close()
    finally:
        await first.close()


async def test_bot_backs_off_past_the_servers_throttle(ircd_factory: Callable[..., IrcServer],
                                                       tcp_proxy: MakeProxy, make_bot: MakeBot,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A reconnect within the server's 2 s throttle is refused with ERROR "... too fast":
    logged as a throttle, counted, and the next attempt waits the hold, so it gets in."""
    caplog.set_level(logging.INFO, "ntrbot.irc")
    server = ircd_factory("hybrid", throttle=True)
    proxy = await tcp_proxy(server.host, server.port)

    class Via:
        host, port = "127.0.0.1", proxy.port

    backoff = RecordingBackoff(first=0.2, cap=30.0, stable_after=600.0, throttle_hold=3.0)
    bot = await make_bot(irc_settings(Via), backoff=backoff)
    await wait_until(lambda: bot.registered, 30, "the first registration")
    proxy.reset()  # at once: the reconnect comes well within the server's 2 s
    await wait_until(lambda: bot.status().reconnects_by_reason["throttled"] >= 1, 30,
                     "a throttled attempt")
    await wait_until(lambda: in_channel(bot), 60, "the join after the throttle")
    status = bot.status()
    assert status.connected and status.nick == "ntrbot"
    assert "IRC server throttled the reconnect: " in caplog.text
    assert "too fast" in caplog.text
    assert 3.0 in backoff.ceilings  # the wait after the throttle was the hold
    d = await bot.say(CHANNEL, "Now Playing: past the throttle", confirm=True)
    assert await d.wait(20) == "delivered"
