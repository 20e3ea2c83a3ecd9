"""The InspIRCd 3 test server itself: IRCv3 caps, BOT=, echo/labels, ops, +m and KICK."""

from __future__ import annotations

from tests.support.ircd import INSPIRCD_OPER, IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc, is_cmd

CHANNEL = "#c"
WANTED = ("echo-message", "labeled-response", "server-time", "batch", "message-tags",
          "cap-notify")


async def test_cap_ls_302_lists_the_ircv3_caps(inspircd_server: IrcServer) -> None:
    user = await RawIrc.connect(inspircd_server.host, inspircd_server.port, "capper", caps=())
    try:
        assert set(WANTED) <= user.caps_available
        assert user.caps_enabled == set()
    finally:
        await user.close()


async def test_registration_after_cap_end_advertises_bot_mode(
        inspircd_server: IrcServer) -> None:
    user = await RawIrc.connect(inspircd_server.host, inspircd_server.port, "botty",
                                caps=WANTED)
    try:
        assert user.caps_enabled == set(WANTED)
        isupport = await user.wait_for(
            lambda m: m.command == "005" and any(p.startswith("BOT=") for p in m.params))
        bot_mode = next(p for p in isupport.params if p.startswith("BOT="))[4:]
        assert bot_mode == "B"
        mark = user.mark()
        await user.send(f"MODE botty +{bot_mode}")
        await user.wait_for(lambda m: m.command == "MODE" and "B" in m.params[-1], since=mark)
    finally:
        await user.close()


async def test_echo_message_carries_server_time(inspircd_server: IrcServer) -> None:
    user = await RawIrc.connect(inspircd_server.host, inspircd_server.port, "echoer",
                                caps=("echo-message", "server-time"))
    try:
        await user.join(CHANNEL)
        mark = user.mark()
        await user.say(CHANNEL, "hello there")
        echo = await user.wait_privmsg("echoer", CHANNEL, since=mark, contains="hello there")
        assert echo.tags.get("time", "").endswith("Z")
    finally:
        await user.close()


async def test_no_echo_without_the_cap(inspircd_server: IrcServer) -> None:
    user = await RawIrc.connect(inspircd_server.host, inspircd_server.port, "quiet")
    try:
        await user.join(CHANNEL)
        mark = user.mark()
        await user.say(CHANNEL, "unechoed")
        await user.send("PING :after-say")
        await user.wait_for(lambda m: m.command == "PONG" and m.params[-1] == "after-say",
                            since=mark)
        assert not [m for m in user.messages(mark) if m.command == "PRIVMSG"]
    finally:
        await user.close()


async def test_labeled_response_labels_the_echo(inspircd_server: IrcServer) -> None:
    user = await RawIrc.connect(inspircd_server.host, inspircd_server.port, "labeler",
                                caps=("echo-message", "labeled-response", "batch",
                                      "message-tags"))
    try:
        await user.join(CHANNEL)
        mark = user.mark()
        await user.send(f"@label=abc PRIVMSG {CHANNEL} :hi")
        echo = await user.wait_privmsg("labeler", CHANNEL, since=mark, contains="hi")
        assert echo.tags["label"] == "abc"
        assert echo.tags.get("msgid")
    finally:
        await user.close()


async def test_first_joiner_is_op_moderates_and_kicks(inspircd_server: IrcServer) -> None:
    host, port = inspircd_server.host, inspircd_server.port
    op = await RawIrc.connect(host, port, "chanop")
    other = await RawIrc.connect(host, port, "pleb")
    try:
        mark = op.mark()
        await op.join(CHANNEL)
        names = await op.wait_for(is_cmd("353", "chanop"), since=mark)
        assert "@chanop" in names.params[-1].split()

        mark = op.mark()
        await op.send(f"MODE {CHANNEL} +m")
        await op.wait_for(lambda m: m.command == "MODE" and m.params[-1] == "+m", since=mark)

        await other.join(CHANNEL)
        mark = other.mark()
        await other.say(CHANNEL, "can anyone hear me")
        refused = await other.wait_for(is_cmd("404", "pleb", CHANNEL), since=mark)
        assert refused.prefix == "irc.test"
        assert not [m for m in op.messages() if "can anyone hear me" in m.raw]

        mark = other.mark()
        await op.send(f"KICK {CHANNEL} pleb :out you go")
        kick = await other.wait_for(is_cmd("KICK", CHANNEL, "pleb"), since=mark)
        assert kick.nick == "chanop" and kick.params[-1] == "out you go"
        await op.wait_for(is_cmd("KICK", CHANNEL, "pleb"))
    finally:
        await other.close()
        await op.close()


async def test_oper_can_kill(inspircd_server: IrcServer) -> None:
    host, port = inspircd_server.host, inspircd_server.port
    oper = await RawIrc.connect(host, port, "boss")
    victim = await RawIrc.connect(host, port, "victim")
    try:
        await oper.send("OPER {} {}".format(*INSPIRCD_OPER))
        await oper.wait_for(is_cmd("381", "boss"))
        await oper.send("KILL victim :test kill")
        await victim.wait_for(lambda m: m.command == "ERROR")
    finally:
        await victim.close()
        await oper.close()


async def test_stop_start_keeps_the_port(inspircd_server: IrcServer) -> None:
    port = inspircd_server.port
    for cycle in range(2):
        user = await RawIrc.connect(inspircd_server.host, port, f"survivor{cycle}")
        inspircd_server.stop()
        assert not inspircd_server.running

        def saw_eof(u: RawIrc = user) -> bool:
            return u.lines[-1:] == [""]
        await wait_until(saw_eof, 10, "the client to see EOF")
        await user.close()
        inspircd_server.start()
        assert inspircd_server.running and inspircd_server.port == port
    again = await RawIrc.connect(inspircd_server.host, port, "survivor")
    try:
        await again.join(CHANNEL)
    finally:
        await again.close()
