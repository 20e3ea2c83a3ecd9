"""CTCP on real servers: a raw client asks VERSION/PING/TIME; answers come by NOTICE to it."""

from __future__ import annotations

from collections.abc import Callable

from ntrbot.irc.client import IrcClient
from tests.support.irc_services import CHANNEL, FakeServices, MakeBot, joined_bot
from tests.support.ircd import IrcServer
from tests.support.rawirc import Msg, RawIrc

BOT = "ntrbot"


def ctcp_reply(name: str, to: str) -> Callable[[Msg], bool]:
    def check(m: Msg) -> bool:
        return (m.command == "NOTICE" and m.nick == BOT and m.params[0].lower() == to
                and m.params[-1].startswith(f"\x01{name}") and m.params[-1].endswith("\x01"))
    return check


async def test_version_ping_time_answered_privately_never_in_the_channel(
        ircd: IrcServer, make_bot: MakeBot, services: FakeServices) -> None:
    bot: IrcClient = await joined_bot(ircd, make_bot, services)
    asker = await RawIrc.connect(ircd.host, ircd.port, "asker")
    watcher = await RawIrc.connect(ircd.host, ircd.port, "watcher")
    try:
        await asker.join(CHANNEL)
        await watcher.join(CHANNEL)
        mark = asker.mark()
        await asker.say(BOT, "\x01VERSION\x01")
        version = await asker.wait_for(ctcp_reply("VERSION", "asker"), 20, mark)
        assert version.params[-1].startswith("\x01VERSION ntrbot ")
        await asker.say(BOT, "\x01PING 1712345678 42\x01")
        ping = await asker.wait_for(ctcp_reply("PING", "asker"), 20, mark)
        assert ping.params[-1] == "\x01PING 1712345678 42\x01"
        await asker.say(BOT, "\x01TIME\x01")
        tm = await asker.wait_for(ctcp_reply("TIME", "asker"), 20, mark)
        assert tm.params[-1].endswith("+0000\x01")

        # asked in the channel (by someone else): answered to that asker alone; unknown
        # CTCPs ignored; an ACTION carrying a command is not a command
        other = await RawIrc.connect(ircd.host, ircd.port, "other")
        try:
            await other.join(CHANNEL)
            wmark, omark = watcher.mark(), other.mark()
            await other.say(CHANNEL, "\x01FINGER\x01")
            await other.say(BOT, "\x01DCC SEND x 0 0 0\x01")
            await other.say(CHANNEL, "\x01ACTION !np\x01")
            await other.say(CHANNEL, "\x01CLIENTINFO\x01")
            info = await other.wait_for(ctcp_reply("CLIENTINFO", "other"), 20, omark)
            assert "VERSION" in info.params[-1]
            await other.say(CHANNEL, "!np")
            await watcher.wait_privmsg(BOT, CHANNEL, since=wmark)  # the real !np's answer
            from_bot = [m for m in watcher.messages(wmark) if m.nick == BOT]
            assert [m.command for m in from_bot] == ["PRIVMSG"]  # to !np, not to the ACTION
            replies = [m for m in other.messages(omark)
                       if m.nick == BOT and m.command == "NOTICE"]
            assert len(replies) == 1  # CLIENTINFO; FINGER and DCC ignored
        finally:
            await other.close()
        assert len([m for m in asker.messages(mark)
                    if m.nick == BOT and m.command == "NOTICE"]) == 3
        assert bot.ctcp.answered == 4

        # a flood of CTCPs from one asker gets a few answers, then silence
        mark = asker.mark()
        for i in range(12):
            await asker.say(BOT, f"\x01PING flood{i}\x01")
        await asker.say(BOT, "!help")  # answered by PRIVMSG after the flood is handled
        await asker.wait_privmsg(BOT, "asker", since=mark)
        flood = [m for m in asker.messages(mark) if ctcp_reply("PING", "asker")(m)]
        assert len(flood) <= 2  # the asker's burst was spent above; its rate is 1 per 10 s
        assert bot.ctcp.dropped >= 10
    finally:
        await watcher.close()
        await asker.close()
