"""IrcClient.status()'s counts on real servers: reconnect reasons, dead links, join refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ntrbot.irc.stats import dead_links
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.ircd import IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc
from tests.support.tcpproxy import MakeProxy


async def test_a_server_restart_counts_a_closed_link_and_failed_connects(
        miniircd: IrcServer, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(miniircd))
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    assert bot.status().reconnects == 0
    miniircd.stop()
    await wait_until(lambda: bot.status().reconnects_by_reason["connect_failed"] >= 1, 30,
                     "a refused reconnect")
    miniircd.start()
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to rejoin")
    assert bot.status().reconnects_by_reason["server_closed"] == 1
    assert dead_links(bot.status().reconnects_by_reason) == 0


@pytest.mark.ngircd
async def test_a_dead_link_is_counted(ircd_factory: Callable[..., IrcServer], tcp_proxy: MakeProxy,
                                      make_bot: MakeBot) -> None:
    server = ircd_factory("ngircd")
    proxy = await tcp_proxy(server.host, server.port)

    class Via:
        host, port = "127.0.0.1", proxy.port

    bot = await make_bot(irc_settings(Via), register_timeout=3.0)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    proxy.blackhole()
    await bot.say(CHANNEL, "Now Playing: into the hole", priority=True, confirm=True,
                  fresh_for=120)
    await wait_until(lambda: dead_links(bot.status().reconnects_by_reason) == 1, 30,
                     "the dead link")
    assert bot.status().reconnects_by_reason["dead_link"] == 1
    proxy.restore()


async def test_join_refusals_are_counted_by_numeric(miniircd: IrcServer, make_bot: MakeBot) -> None:
    op = await RawIrc.connect(miniircd.host, miniircd.port, "chanop")
    try:
        await op.join(CHANNEL)
        await op.send(f"MODE {CHANNEL} +k sekrit")
        await op.wait_for(lambda m: m.command == "MODE", 20)
        bot = await make_bot(irc_settings(miniircd))
        await wait_until(lambda: bot.status().join_refusal_counts.get("475", 0) >= 1, 30,
                         "a 475 refusal")
        assert set(bot.status().join_refusal_counts) == {"475"}
    finally:
        await op.close()
