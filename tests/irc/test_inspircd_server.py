"""The InspIRCd 3 test server's IRCv3 side: caps, BOT= after CAP END, echo/labels (its ops
and opers: test_server_harness.py)."""

from __future__ import annotations

from tests.support.ircd import IrcServer
from tests.support.rawirc import RawIrc

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
