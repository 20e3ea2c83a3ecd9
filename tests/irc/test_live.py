"""Real-server tests: the bot against miniircd (and ngircd when installed)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from typing import Any

import irc.connection
import pytest

from ntrbot.irc.backend import IrcStatus
from tests.support.irc_services import (
    CHANNEL,
    FakeServices,
    MakeBot,
    channel_user,
    irc_settings,
    joined_bot,
)
from tests.support.ircd import NGIRCD, IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc

BOT = "ntrbot"


async def test_connects_joins_and_answers(ircd: IrcServer, make_bot: MakeBot,
                                          services: FakeServices) -> None:
    statuses: list[IrcStatus] = []
    bot = await make_bot(irc_settings(ircd), services)
    bot.add_listener(statuses.append)
    await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to join")
    st = bot.status()
    assert st.connected and st.nick == BOT and st.server == f"{ircd.host}:{ircd.port}"
    assert any(CHANNEL in s.channels for s in statuses)

    async with channel_user(ircd, "listener") as user:
        mark = user.mark()
        await user.say(CHANNEL, "!song 2")
        msg = await user.wait_privmsg(BOT, CHANNEL, since=mark)
        assert msg.params[-1] == "Song #2: Second by Artist 2 - https://soundcloud.com/a2/t2"

        # private message -> private reply
        mark = user.mark()
        await user.say(BOT, "!np")
        msg = await user.wait_privmsg(BOT, "listener", since=mark)
        assert msg.params[-1] == "Nothing announced yet."

        # say() from the announce path
        mark = user.mark()
        d = await bot.say(CHANNEL, "Now Playing: Song #1", priority=True, confirm=True)
        assert d.status == "sent" and "waiting for it to confirm" in d.detail
        # echo-message (InspIRCd): the echo confirms it; else the PONG of the PING after it.
        assert await asyncio.wait_for(d.done, 20) == "delivered"
        if "echo-message" in bot.caps:
            assert "echoed" in d.detail and "labeled-response" in bot.caps
        else:
            assert "answered the PING" in d.detail
        await user.wait_privmsg(BOT, CHANNEL, since=mark, contains="Now Playing: Song #1")


async def test_hostile_title_is_one_privmsg_and_bot_stays(ircd: IrcServer, make_bot: MakeBot,
                                                          services: FakeServices) -> None:
    assert services.current is not None
    services.current.tracks[0].track.__dict__["title"] = "Evil\r\nQUIT :x\r\nJOIN #other\x00"
    bot = await joined_bot(ircd, make_bot, services)
    async with channel_user(ircd, "listener") as user:
        mark = user.mark()
        await user.say(CHANNEL, "!song 1")
        msg = await user.wait_privmsg(BOT, CHANNEL, since=mark)
        assert "Evil QUIT :x JOIN #other by Artist 1" in msg.params[-1]
        # and the bot is still there, still answering
        await user.say(CHANNEL, "!help")
        await user.wait_privmsg(BOT, CHANNEL, since=mark, contains="Commands:")
        from_bot = [m for m in user.messages(mark) if m.nick == BOT]
        assert [m.command for m in from_bot] == ["PRIVMSG", "PRIVMSG"]
        assert bot.status().connected and CHANNEL in bot.status().channels


async def test_long_multibyte_title_arrives_whole_with_url(ircd: IrcServer, make_bot: MakeBot,
                                                           services: FakeServices) -> None:
    assert services.current is not None
    services.current.tracks[1].track.__dict__["title"] = "Ünïcödé 🎵 " * 80
    await joined_bot(ircd, make_bot, services)
    async with channel_user(ircd, "listener") as user:
        mark = user.mark()
        await user.say(CHANNEL, "!song 2")
        msg = await user.wait_privmsg(BOT, CHANNEL, since=mark)
        assert msg.params[-1].startswith("Song #2: Ünïcödé 🎵")
        assert msg.params[-1].endswith("… https://soundcloud.com/a2/t2")
        assert len(msg.raw.encode()) + 2 <= 512
        assert "\ufffd" not in msg.params[-1]


async def test_survives_server_restart_and_delivers_queued_once(ircd: IrcServer, make_bot: MakeBot,
                                                                services: FakeServices) -> None:
    gate = asyncio.Event()
    gate.set()
    plain = irc.connection.AioFactory()

    async def gated(protocol: Any, address: Any) -> Any:
        await gate.wait()
        return await plain(protocol, address)

    bot = await joined_bot(ircd, make_bot, services, connect_factory=gated)
    gate.clear()
    ircd.stop()
    await wait_until(lambda: not bot.status().connected, 30, "bot to notice the drop")
    assert bot.status().channels == ()
    assert bot.status().last_error

    d = await bot.say(CHANNEL, "Now Playing: Song #3: queued while down", priority=True,
                      fresh_for=120, confirm=True)
    assert d.status == "queued" and "disconnected" in d.detail
    assert bot.status().queued == 1

    ircd.start()
    async with channel_user(ircd, "listener") as user:
        gate.set()
        assert await asyncio.wait_for(d.done, 30) == "delivered"
        await user.wait_privmsg(BOT, CHANNEL, contains="queued while down")
        # still answering after the restart
        mark = user.mark()
        await user.say(CHANNEL, "!playlist")
        msg = await user.wait_privmsg(BOT, CHANNEL, since=mark)
        assert msg.params[-1].endswith("https://ntr.example/playlist")
        queued = [m for m in user.messages() if m.nick == BOT and "queued while down"
                  in m.params[-1]]
        assert len(queued) == 1
        assert bot.status().queued == 0


async def test_stale_queued_line_expires(ircd: IrcServer, make_bot: MakeBot,
                                         services: FakeServices) -> None:
    bot = await joined_bot(ircd, make_bot, services)
    ircd.stop()
    await wait_until(lambda: not bot.status().connected, 30, "bot to notice the drop")
    d = await bot.say(CHANNEL, "too late", priority=True, fresh_for=0.2)
    assert d.status == "queued"
    assert await asyncio.wait_for(d.done, 10) == "expired"
    ircd.start()
    async with channel_user(ircd, "listener") as user:
        await wait_until(lambda: CHANNEL in bot.status().channels, 30, "bot to rejoin")
        mark = user.mark()
        await user.say(CHANNEL, "!np")
        await user.wait_privmsg(BOT, CHANNEL, since=mark, contains="Nothing announced")
        assert not [m for m in user.messages() if "too late" in m.raw]


@pytest.mark.parametrize("squatter_in_channel", [True, False], ids=["sees-quit", "retries"])
async def test_nick_collision_fallback_and_reclaim(ircd: IrcServer, make_bot: MakeBot,
                                                   services: FakeServices,
                                                   squatter_in_channel: bool) -> None:
    squatter = await RawIrc.connect(ircd.host, ircd.port, BOT)
    user = await RawIrc.connect(ircd.host, ircd.port, "listener")
    try:
        await user.join(CHANNEL)
        if squatter_in_channel:
            await squatter.join(CHANNEL)
        # Without a shared channel the QUIT is invisible: the bot retries the nick itself.
        # Every refused NICK adds to ngircd's penalty: 2 s between tries reclaims sooner there
        # (≈10 s) than 0.5 s (≈16 s), and costs the other servers about a second.
        retry = 3600.0 if squatter_in_channel else 2.0
        bot = await joined_bot(ircd, make_bot, services, nick_retry_interval=retry)
        alt = bot.status().nick
        assert alt is not None and alt != BOT and alt.startswith("ntrbot")
        mark = user.mark()
        await user.say(CHANNEL, "!help")
        await user.wait_privmsg(alt, CHANNEL, since=mark, contains="Commands:")

        await squatter.close("leaving")
        await wait_until(lambda: bot.status().nick == BOT, 30, "bot to reclaim its nick")
        await user.wait_for(lambda m: m.command == "NICK" and m.nick == alt
                            and m.params[0] == BOT, 20, mark)
        mark = user.mark()
        await user.say(CHANNEL, "!help")
        await user.wait_privmsg(BOT, CHANNEL, since=mark, contains="Commands:")
    finally:
        await user.close()
        await squatter.close()


async def test_admin_commands_and_refusal(ircd: IrcServer, make_bot: MakeBot,
                                          services: FakeServices) -> None:
    await joined_bot(ircd, make_bot, services)
    boss = await RawIrc.connect(ircd.host, ircd.port, "boss")
    user = await RawIrc.connect(ircd.host, ircd.port, "listener")
    try:
        await boss.join(CHANNEL)
        await user.join(CHANNEL)
        mark = user.mark()
        await user.say(CHANNEL, "!announce 2")
        await user.wait_privmsg(BOT, CHANNEL, since=mark, contains="admins only")
        mark = boss.mark()
        await boss.say(CHANNEL, "!announce 2")
        await boss.wait_privmsg(BOT, CHANNEL, since=mark, contains="Announced #2")
        assert services.announced == [(2, "boss")]
    finally:
        await user.close()
        await boss.close()


@pytest.mark.ngircd
@pytest.mark.skipif(NGIRCD is None, reason="ngircd is not installed")
async def test_kicked_bot_rejoins_on_ngircd(make_bot: MakeBot, services: FakeServices) -> None:
    server = IrcServer("ngircd")
    server.start()
    try:
        op = await RawIrc.connect(server.host, server.port, "chanop")
        await op.join(CHANNEL)  # first in: channel operator
        bot = await joined_bot(server, make_bot, services, rejoin_delay=0.2)
        mark = op.mark()
        await op.send(f"KICK {CHANNEL} {BOT} :out you go")
        await op.wait_for(lambda m: m.command == "KICK", 20, mark)
        await op.wait_for(lambda m: m.command == "JOIN" and m.nick == BOT, 30, mark)
        await wait_until(lambda: CHANNEL in bot.status().channels, 30, "rejoin")
        mark = op.mark()
        await op.say(CHANNEL, "!np")
        await op.wait_privmsg(BOT, CHANNEL, since=mark, contains="Nothing announced")
        await op.close()
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


async def test_per_user_command_limit_survives_a_nick_change(
        ircd: IrcServer, make_bot: MakeBot, services: FakeServices,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit is per user@host: a NICK change does not buy a fresh burst (it did, keyed
    by nick). A user on another connection still gets answers."""
    from ntrbot.irc import command_runner

    monkeypatch.setattr(command_runner, "USER_COMMAND_RATE", 1e-6)  # no refill during the test
    caplog.set_level(logging.INFO, "ntrbot.irc")
    await joined_bot(ircd, make_bot, services)
    user = await RawIrc.connect(ircd.host, ircd.port, "greedy")
    other = await RawIrc.connect(ircd.host, ircd.port, "patient")
    try:
        for _ in range(command_runner.USER_COMMAND_BURST):
            mark = user.mark()
            await user.say(BOT, "!np")
            await user.wait_privmsg(BOT, "greedy", since=mark)
        await user.send("NICK greedy2")
        await user.wait_for(lambda m: m.command == "NICK" and m.params[0] == "greedy2")
        await user.say(BOT, "!np")
        await wait_until(lambda: "ignoring a command from greedy2!" in caplog.text, 20,
                         "the renamed user's command to be refused")
        mark = other.mark()
        await other.say(BOT, "!np")
        await other.wait_privmsg(BOT, "patient", since=mark)
        assert not [m for m in user.messages() if m.command == "PRIVMSG"
                    and m.params[0] == "greedy2"]
    finally:
        await user.close()
        await other.close()
