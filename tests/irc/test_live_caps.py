"""Capability negotiation against real servers: miniircd (empty CAP LS) and ngircd."""

from __future__ import annotations

from ntrbot.irc.caps import WANTED
from tests.support.irc_services import CHANNEL, FakeServices, MakeBot, irc_settings
from tests.support.ircd import IrcServer
from tests.support.net import wait_until


async def test_real_server_negotiates_and_registers(ircd: IrcServer, make_bot: MakeBot,
                                                    services: FakeServices) -> None:
    bot = await make_bot(irc_settings(ircd), services)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    assert bot.caps <= set(WANTED) and bot.status().caps == tuple(sorted(bot.caps))
    assert bot.status().last_error is None


async def test_real_server_without_sasl_still_registers(ircd: IrcServer, make_bot: MakeBot,
                                                        services: FakeServices) -> None:
    settings = irc_settings(ircd, irc_sasl_user="bot", irc_sasl_password="pw")
    bot = await make_bot(settings, services)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    assert "sasl" not in bot.caps
    assert (bot.status().last_error or "").startswith("SASL failed")
