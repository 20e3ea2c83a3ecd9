"""Delivery truth on real servers: confirmed, refused (+m, ban, no such channel), dead link."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

import pytest

from ntrbot.irc.client import IrcClient
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.ircd import IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc
from tests.support.tcpproxy import MakeProxy

BOT = "ntrbot"


@pytest.fixture(params=["ngircd", "inspircd", "hybrid"])
def opserver(request: pytest.FixtureRequest, ircd_factory: Callable[..., IrcServer]) -> IrcServer:
    """A real server where the channel's first joiner is op (ngircd, InspIRCd 3, hybrid)."""
    kind: str = request.param
    return ircd_factory(kind)


async def joined_bot(server: Any, make_bot: MakeBot, **kw: Any) -> IrcClient:
    bot = await make_bot(irc_settings(server, **kw.pop("settings", {})), **kw)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    return bot


async def op_in_channel(server: IrcServer) -> RawIrc:
    op = await RawIrc.connect(server.host, server.port, "chanop")
    await op.join(CHANNEL)
    return op


async def test_confirmed_line_is_delivered_and_seen(ircd: IrcServer, make_bot: MakeBot) -> None:
    bot = await joined_bot(ircd, make_bot)
    user = await RawIrc.connect(ircd.host, ircd.port, "listener")
    try:
        await user.join(CHANNEL)
        d = await bot.say(CHANNEL, "Now Playing: Song #1: confirmed", priority=True,
                          confirm=True)
        assert await asyncio.wait_for(d.done, 20) == "delivered"
        await user.wait_privmsg(BOT, CHANNEL, contains="confirmed")
        assert bot.status().unconfirmed == 0
    finally:
        await user.close()


async def test_moderated_channel_refuses_the_line_at_once(opserver: IrcServer,
                                                          make_bot: MakeBot) -> None:
    op = await op_in_channel(opserver)
    try:
        bot = await joined_bot(opserver, make_bot)
        mark = op.mark()
        await op.send(f"MODE {CHANNEL} +m")
        await op.wait_for(lambda m: m.command == "MODE" and "+m" in m.params, since=mark)
        d = await bot.say(CHANNEL, "Now Playing: nobody hears this", priority=True,
                          confirm=True)
        assert await asyncio.wait_for(d.done, 20) == "failed"
        assert d.detail.startswith("404 "), d.detail
        # the link is fine: no reconnect, and once -m the next line is delivered
        await op.send(f"MODE {CHANNEL} -m")
        await op.wait_for(lambda m: m.command == "MODE" and "-m" in m.params, since=mark)
        again = await bot.say(CHANNEL, "Now Playing: heard", priority=True, confirm=True)
        assert await asyncio.wait_for(again.done, 20) == "delivered"
        await op.wait_privmsg(BOT, CHANNEL, contains="heard")
        assert not any("nobody hears" in m.params[-1] for m in op.messages()
                       if m.command == "PRIVMSG")
    finally:
        await op.close()


async def test_ban_and_kick_fail_the_waiting_announce(opserver: IrcServer,
                                                      make_bot: MakeBot) -> None:
    op = await op_in_channel(opserver)
    try:
        bot = await joined_bot(opserver, make_bot, rejoin_delay=0.2)
        await op.send(f"MODE {CHANNEL} +b {BOT}!*@*")
        await op.send(f"KICK {CHANNEL} {BOT} :bye")
        await wait_until(lambda: CHANNEL not in bot.status().channels, 20, "the kick")
        d = await bot.say(CHANNEL, "Now Playing: banned", priority=True, confirm=True,
                          fresh_for=60)
        assert d.state in ("queued", "failed")
        assert await asyncio.wait_for(d.done, 20) == "failed"
        assert d.detail.startswith("474 "), d.detail
    finally:
        await op.close()


async def test_no_such_channel_is_failed_with_the_servers_reason(ircd: IrcServer,
                                                                 make_bot: MakeBot) -> None:
    bot = await joined_bot(ircd, make_bot)
    d = await bot.say("#nobody-here", "Now Playing: into the void", priority=True,
                      confirm=True)
    assert await asyncio.wait_for(d.done, 20) == "failed"
    code = d.detail.split()[0]
    assert code in {"401", "403", "404", "442"}, d.detail


@pytest.mark.parametrize("kind", ["ngircd", "inspircd", "hybrid"])
async def test_dead_link_is_noticed_and_the_line_resent_after_the_rejoin(
        kind: str, ircd_factory: Callable[..., IrcServer], tcp_proxy: MakeProxy,
        make_bot: MakeBot) -> None:
    server = ircd_factory(kind)
    proxy = await tcp_proxy(server.host, server.port)

    class Via:
        host, port = "127.0.0.1", proxy.port

    bot = await joined_bot(Via, make_bot, register_timeout=3.0)
    user = await RawIrc.connect(server.host, server.port, "listener")
    try:
        await user.join(CHANNEL)
        proxy.blackhole()  # no FIN, no RST: packets just stop
        start = time.monotonic()
        d = await bot.say(CHANNEL, "Now Playing: through the hole", priority=True,
                          confirm=True, fresh_for=120)
        assert d.state == "sent"
        await wait_until(lambda: not bot.status().connected, 20, "the dead link")
        noticed = time.monotonic() - start
        print(f"dead link noticed {noticed:.2f} s after the unconfirmed announce ({kind})")
        # (a cast: mypy keeps the "sent" narrowing of d.state across the awaits above)
        assert cast(str, d.state) == "queued" and "re-sending" in d.detail
        assert "link lost" in (bot.status().last_error or "")
        proxy.restore()
        assert await asyncio.wait_for(d.done, 60) == "delivered"
        assert d.attempts == 2
        await user.wait_privmsg(BOT, CHANNEL, contains="through the hole")
        await asyncio.sleep(0.5)
        assert sum("through the hole" in m.params[-1] for m in user.messages()
                   if m.command == "PRIVMSG") == 1
    finally:
        await user.close()


async def test_dead_link_with_a_stale_line_expires_it(ircd_factory: Callable[..., IrcServer],
                                                      tcp_proxy: MakeProxy,
                                                      make_bot: MakeBot) -> None:
    server = ircd_factory("ngircd")
    proxy = await tcp_proxy(server.host, server.port)

    class Via:
        host, port = "127.0.0.1", proxy.port

    bot = await joined_bot(Via, make_bot, register_timeout=3.0)
    proxy.blackhole()
    d = await bot.say(CHANNEL, "Now Playing: stale", priority=True, confirm=True,
                      fresh_for=1.0)
    assert await asyncio.wait_for(d.done, 30) == "expired"
    assert d.state != "delivered"
