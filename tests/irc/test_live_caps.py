"""Capability negotiation against real servers: miniircd (empty CAP LS) and ngircd."""

from __future__ import annotations

from ntrbot.irc.caps import WANTED
from tests.support.irc_services import CHANNEL, irc_settings
from tests.support.net import wait_until


async def test_real_server_negotiates_and_registers(ircd, make_bot, services) -> None:
    bot = await make_bot(irc_settings(ircd), services)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    assert bot.caps <= set(WANTED) and bot.status().caps == tuple(sorted(bot.caps))
    assert bot.status().last_error is None


async def test_real_server_without_sasl_still_registers(ircd, make_bot, services) -> None:
    settings = irc_settings(ircd, irc_sasl_user="bot", irc_sasl_password="pw")
    bot = await make_bot(settings, services)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    assert "sasl" not in bot.caps
    assert bot.status().last_error.startswith("SASL failed")
