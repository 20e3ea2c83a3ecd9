"""ircd-hybrid 8 as a test server, and the bot against its stock reconnect throttle."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import pytest

from tests.support.irc_services import CHANNEL, MakeBot, RecordingBackoff, in_channel, irc_settings
from tests.support.ircd import HYBRID_OPER, IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc, is_cmd
from tests.support.tcpproxy import MakeProxy

pytestmark = pytest.mark.hybrid


async def test_registration_advertises_bot_mode(hybrid_server: IrcServer) -> None:
    user = await RawIrc.connect(hybrid_server.host, hybrid_server.port, "botty")
    try:
        isupport = await user.wait_for(
            lambda m: m.command == "005" and any(p.startswith("BOT=") for p in m.params))
        assert "BOT=B" in isupport.params
    finally:
        await user.close()


async def test_first_joiner_is_op_moderates_and_bans(hybrid_server: IrcServer) -> None:
    host, port = hybrid_server.host, hybrid_server.port
    op = await RawIrc.connect(host, port, "chanop")
    other = await RawIrc.connect(host, port, "pleb")
    try:
        mark = op.mark()
        await op.join(CHANNEL)
        names = await op.wait_for(is_cmd("353", "chanop"), since=mark)
        assert "@chanop" in names.params[-1].split()
        await op.send(f"MODE {CHANNEL} +m")
        await op.wait_for(lambda m: m.command == "MODE" and "+m" in m.params, since=mark)
        await other.join(CHANNEL)
        mark = other.mark()
        await other.say(CHANNEL, "can anyone hear me")
        await other.wait_for(is_cmd("404", "pleb", CHANNEL), since=mark)
        await op.send(f"MODE {CHANNEL} +b pleb!*@*")
        await op.send(f"KICK {CHANNEL} pleb :out")
        await other.wait_for(is_cmd("KICK", CHANNEL, "pleb"))
        mark = other.mark()
        await other.send(f"JOIN {CHANNEL}")
        await other.wait_for(is_cmd("474", "pleb", CHANNEL), since=mark)
    finally:
        await other.close()
        await op.close()


async def test_oper_can_kill(hybrid_server: IrcServer) -> None:
    host, port = hybrid_server.host, hybrid_server.port
    oper = await RawIrc.connect(host, port, "boss")
    victim = await RawIrc.connect(host, port, "victim")
    try:
        await oper.send("OPER {} {}".format(*HYBRID_OPER))
        await oper.wait_for(is_cmd("381", "boss"))
        await oper.send("KILL victim :test kill")
        await victim.wait_for(lambda m: m.command == "ERROR")
    finally:
        await victim.close()
        await oper.close()


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
