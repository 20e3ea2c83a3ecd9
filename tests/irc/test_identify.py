"""NickServ IDENTIFY fallback: sent after 001 when SASL is not configured or not offered."""

from __future__ import annotations

import logging

import pytest

from tests.support.fakeircd import FakeIrcd
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.net import wait_until

PASSWORD = "n1ckserv-pw"


def lines(server: FakeIrcd) -> list[str]:
    return [f"{m.command} {' '.join(m.params)}" for m in server.conns[-1].received]


async def joined(server: FakeIrcd) -> list[str]:
    await server.wait(lambda: server.conns and any(
        m.command == "JOIN" for m in server.conns[-1].received))
    return lines(server)


@pytest.mark.parametrize("caps", ["multi-prefix", ""])
async def test_identify_without_sasl(make_bot: MakeBot, caps: str,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = await FakeIrcd().start()
    server.caps = caps
    try:
        bot = await make_bot(irc_settings(server, irc_nickserv_password=PASSWORD))
        sent = await joined(server)
        ident = f"PRIVMSG NickServ IDENTIFY ntrbot {PASSWORD}"
        assert ident in sent
        assert sent.index(ident) < next(i for i, x in enumerate(sent) if x.startswith("JOIN"))
        assert bot.nickserv.sent == 1
        server.conns[-1].send(":NickServ!s@services NOTICE ntrbot :Password accepted - "
                              "you are now recognized.")
        await wait_until(lambda: "Password accepted" in caplog.text, 10, "the notice log")
        assert PASSWORD not in caplog.text
        assert "IRC identifying to NickServ as ntrbot" in caplog.text
    finally:
        await server.close()


async def test_identify_when_sasl_is_configured_but_not_offered(
        make_bot: MakeBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = await FakeIrcd().start()
    server.caps = "multi-prefix"  # no sasl
    try:
        await make_bot(irc_settings(server, irc_sasl_user="bot", irc_sasl_password="right",
                                    irc_nickserv_password=PASSWORD))
        sent = await joined(server)
        assert f"PRIVMSG NickServ IDENTIFY bot {PASSWORD}" in sent  # the account's name
        assert PASSWORD not in caplog.text
    finally:
        await server.close()


async def test_no_identify_after_a_sasl_login(make_bot: MakeBot) -> None:
    server = await FakeIrcd().start()  # offers sasl=PLAIN, accepts bot/right
    try:
        bot = await make_bot(irc_settings(server, irc_sasl_user="bot",
                                          irc_sasl_password="right",
                                          irc_nickserv_password=PASSWORD))
        sent = await joined(server)
        assert any(x.startswith("AUTHENTICATE") for x in sent)
        assert not [x for x in sent if "NickServ" in x]
        assert bot.nickserv.sent == 0
    finally:
        await server.close()


async def test_no_password_no_identify(make_bot: MakeBot) -> None:
    server = await FakeIrcd().start()
    try:
        await make_bot(irc_settings(server))
        assert not [x for x in await joined(server) if "NickServ" in x]
        assert CHANNEL
    finally:
        await server.close()
