"""Real servers restarted again and again, and a flood penalty after an outage: quick rejoins
every time (the backoff starts over), one line in the channel per delivered announce."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from tests.support.irc_services import CHANNEL, MakeBot, RecordingBackoff, in_channel, irc_settings
from tests.support.ircd import IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc
from tests.support.tcpproxy import MakeProxy

pytestmark = pytest.mark.timeout(240)

BOT = "ntrbot"
RESTARTS = 8


async def test_every_restart_is_retried_at_the_first_step(ircd: IrcServer,
                                                          make_bot: MakeBot) -> None:
    # five quick tries of <= 1 s each: more than any test server needs to come back
    backoff = RecordingBackoff(first=1.0, cap=30.0, stable_after=600.0, flat=5)
    bot = await make_bot(irc_settings(ircd), backoff=backoff)
    await wait_until(lambda: in_channel(bot), 30, "the first join")
    await wait_until(lambda: backoff.is_recovered, 10, "the first PONG")
    for restart in range(1, RESTARTS + 1):
        mark = len(backoff.ceilings)
        await asyncio.to_thread(ircd.stop)
        await wait_until(lambda: not bot.registered, 20, "the bot to see the server go")
        await asyncio.to_thread(ircd.start)
        await wait_until(lambda: in_channel(bot), 30, f"rejoin after restart {restart}")
        d = await bot.say(CHANNEL, f"Now Playing: after restart {restart}", confirm=True)
        assert await d.wait(20) == "delivered", d
        assert backoff.is_recovered and backoff.attempt == 0
        chosen = backoff.ceilings[mark:]
        # every wait of this outage was at the first step: nothing carried over
        assert chosen and set(chosen) == {1.0}, (restart, chosen)
        assert bot.nick == BOT
    status = bot.status()
    assert status.reconnects_by_reason["server_closed"] >= RESTARTS
    assert status.reconnects >= RESTARTS
    assert status.last_disconnect_reason in ("server_closed", "connect_failed")


@pytest.mark.parametrize("burst", [1000, 4], ids=["flood-protection-off", "flood-on"])
@pytest.mark.parametrize("kind", ["ngircd", "hybrid"])
async def test_backlog_after_an_outage_is_slow_not_dead(kind: str, burst: int,
                                                        ircd_factory: Callable[..., IrcServer],
                                                        tcp_proxy: MakeProxy,
                                                        make_bot: MakeBot) -> None:
    """20 announces queued while the link was down go out at once after the rejoin; ngircd
    holds them back with its flood penalty (one command a second), so the PING fences are
    answered long after 5 s. The server keeps talking, so nothing is presumed dead, nothing
    is written twice: the listener sees exactly the lines recorded delivered."""
    server = ircd_factory(kind)
    proxy = await tcp_proxy(server.host, server.port)

    class Via:
        host, port = "127.0.0.1", proxy.port

    rate = 20.0 if burst > 4 else 2.0
    bot = await make_bot(irc_settings(Via, irc_flood_burst=burst, irc_flood_rate=rate))
    await wait_until(lambda: in_channel(bot), 30, "the first join")
    listener = await RawIrc.connect(server.host, server.port, "listener")
    try:
        await listener.join(CHANNEL)
        proxy.reset()  # the link drops (RST both ways): the server sees the bot go
        await wait_until(lambda: not bot.registered, 20, "the drop")
        # queued during the outage, before the reconnect (the backoff waits >= 0.1 s)
        items = [await bot.say(CHANNEL, f"Now Playing: backlog {i:02d}", confirm=True,
                               fresh_for=300) for i in range(20)]
        assert {d.state for d in items} == {"queued"}
        await asyncio.gather(*(d.wait(150) for d in items))
        states = [d.state for d in items]
        delivered = [d for d in items if d.state == "delivered"]
        await listener.send("PING :listener-end")
        await listener.wait_for(lambda m: m.command == "PONG" and m.params[-1] ==
                                "listener-end", timeout=30)
        await asyncio.sleep(1.0)
        seen = [m.params[-1] for m in listener.messages()
                if m.command == "PRIVMSG" and "backlog" in m.params[-1]]
        assert len(seen) == len(delivered) == 20, (states, [d.detail for d in items], seen)
        assert sorted(seen) == sorted(d.line for d in delivered)
        assert all(d.attempts == 1 for d in items)
        assert bot.status().reconnects_by_reason["dead_link"] == 0
        assert bot.nick == BOT
    finally:
        await listener.close()


async def test_nick_held_by_a_ghost_is_taken_back(miniircd: IrcServer, make_bot: MakeBot,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The nick is held by someone the bot shares no channel with (it sees no QUIT): NickServ
    is asked to GHOST it (the password never logged), NICK is retried until it is free."""
    caplog.set_level(logging.DEBUG)
    ghost = await RawIrc.connect(miniircd.host, miniircd.port, BOT)
    secret = "ghost-buster-pw"
    bot = await make_bot(irc_settings(miniircd, irc_nickserv_password=secret),
                         nick_retry_interval=0.3)
    await wait_until(lambda: in_channel(bot), 30, "the join")
    assert bot.nick == BOT + "_"
    await wait_until(lambda: "GHOST" in caplog.text, 10, "the GHOST request")
    await ghost.close()  # pings out, in real life
    await wait_until(lambda: bot.nick == BOT, 20, "the nick back")
    assert secret not in caplog.text
    assert "PRIVMSG NickServ :GHOST ***" in caplog.text
