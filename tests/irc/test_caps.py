"""CAP negotiation: unit tests of CapNegotiator, and IrcClient against the fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from ntrbot.irc.caps import CapNegotiator, parse_caps
from ntrbot.irc.client import IrcClient
from tests.support.fakeircd import FakeIrcd
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.net import wait_until

ALL = "echo-message labeled-response message-tags server-time batch cap-notify"


@pytest.fixture
async def fake() -> AsyncIterator[FakeIrcd]:
    server = await FakeIrcd().start()
    yield server
    await server.close()


async def joined(bot: IrcClient) -> None:
    await wait_until(lambda: CHANNEL in bot.status().channels, 20, "join")


def reqs(fake: FakeIrcd, conn: int = -1) -> list[str]:
    return [m.params[-1] for m in fake.conns[conn].received
            if m.command == "CAP" and m.params[0] == "REQ"]


# --- unit ------------------------------------------------------------------------

class Recorder:
    """The lines sent, and a SaslLogin that records what it was asked."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.sasl: list[list[str] | None] = []
        self.no_sasl: list[str] = []
        self.done: Callable[[], None] | None = None

    def start(self, offered: list[str] | None, done: Callable[[], None]) -> None:
        self.sasl.append(offered)
        self.done = done

    def unavailable(self, why: str) -> None:
        self.no_sasl.append(why)


def negotiator(want_sasl: bool = False) -> tuple[CapNegotiator, Recorder]:
    r = Recorder()
    cap = CapNegotiator(r.sent.append, sasl=r if want_sasl else None)
    cap.begin()
    return cap, r


def test_parse_caps_values_and_case() -> None:
    assert parse_caps("SASL=PLAIN,EXTERNAL server-time draft/x=") == {
        "sasl": "PLAIN,EXTERNAL", "server-time": None, "draft/x": ""}


def test_multi_line_ls_waits_for_the_last_line() -> None:
    cap, r = negotiator()
    cap.on_cap(["LS", "*", "multi-prefix echo-message"])
    assert r.sent == []
    cap.on_cap(["LS", "server-time sasl=PLAIN"])
    assert r.sent == ["CAP REQ :echo-message server-time"]
    cap.on_cap(["ACK", "echo-message server-time"])
    assert r.sent[-1] == "CAP END" and cap.enabled == {"echo-message", "server-time"}


def test_nothing_wanted_ends_at_once_and_sasl_only_when_configured() -> None:
    cap, r = negotiator()
    cap.on_cap(["LS", ""])
    assert r.sent == ["CAP END"]
    cap, r = negotiator(want_sasl=True)
    cap.on_cap(["LS", "sasl=PLAIN,SCRAM-SHA-256 batch"])
    assert r.sent == ["CAP REQ :batch sasl"]
    cap.on_cap(["ACK", "batch sasl"])
    assert r.sasl == [["PLAIN", "SCRAM-SHA-256"]] and "CAP END" not in r.sent
    assert r.done is not None
    r.done()  # the login is over: CAP END
    assert r.sent[-1] == "CAP END"
    cap.end()
    assert r.sent.count("CAP END") == 1


def test_nak_retries_one_by_one() -> None:
    cap, r = negotiator()
    cap.on_cap(["LS", "batch server-time echo-message"])
    cap.on_cap(["NAK", "echo-message server-time batch"])
    assert r.sent[1:] == ["CAP REQ :echo-message", "CAP REQ :server-time", "CAP REQ :batch"]
    cap.on_cap(["ACK", "echo-message"])
    cap.on_cap(["NAK", "server-time"])
    assert "CAP END" not in r.sent
    cap.on_cap(["ACK", "batch"])
    assert r.sent[-1] == "CAP END" and cap.enabled == {"echo-message", "batch"}


def test_sasl_unavailable_is_reported() -> None:
    cap, r = negotiator(want_sasl=True)
    cap.on_cap(["LS", "batch"])
    cap.on_cap(["ACK", "batch"])
    assert r.no_sasl == ["the server does not offer SASL"] and r.sent[-1] == "CAP END"
    cap, r = negotiator(want_sasl=True)
    cap.unknown_command("CAP")
    assert r.no_sasl and cap.state == "none" and r.sent == []


def test_new_and_del_after_negotiation() -> None:
    cap, r = negotiator()
    cap.on_cap(["LS", "cap-notify"])
    cap.on_cap(["ACK", "cap-notify"])
    cap.on_cap(["NEW", "echo-message away-notify"])
    assert r.sent[-1] == "CAP REQ :echo-message"
    cap.on_cap(["ACK", "echo-message"])
    assert cap.enabled == {"cap-notify", "echo-message"}
    cap.on_cap(["DEL", "echo-message"])
    assert cap.enabled == {"cap-notify"} and r.sent.count("CAP END") == 1


# --- against the fake server ----------------------------------------------------

async def test_cap_ls_302_first_on_every_connection(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.caps = f"multi-prefix {ALL} sasl=PLAIN account-tag"
    fake.ls_per_line = 3
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    first = fake.conns[0].received
    assert (first[0].command, first[0].params) == ("CAP", ("LS", "302"))
    assert reqs(fake) == [ALL]
    cmds = fake.commands(0)
    assert cmds.index("CAP", 2) < cmds.index("JOIN")
    assert bot.caps == frozenset(ALL.split())
    assert bot.status().caps == tuple(sorted(ALL.split()))

    fake.caps = "server-time"  # the next server knows less: nothing carries over
    fake.conns[0].writer.close()
    await wait_until(lambda: len(fake.conns) == 2 and bot.status().connected, 20,
                     "reconnect")
    await joined(bot)
    assert fake.conns[1].received[0].params == ("LS", "302")
    assert bot.caps == frozenset({"server-time"})


async def test_nak_then_one_by_one_against_the_server(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.caps = ALL
    fake.nak = {"labeled-response"}
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    assert reqs(fake)[0] == ALL and len(reqs(fake)) == 7
    assert bot.caps == frozenset(ALL.split()) - {"labeled-response"}


async def test_cap_new_and_del(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.caps = "cap-notify"
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    conn = fake.conns[0]
    conn.send(":fake CAP ntrbot NEW :echo-message chghost")
    await wait_until(lambda: "echo-message" in bot.caps, 20, "echo-message")
    assert reqs(fake)[-1] == "echo-message"
    conn.send(":fake CAP ntrbot DEL :echo-message")
    await wait_until(lambda: "echo-message" not in bot.caps, 20, "DEL")
    assert bot.caps == frozenset({"cap-notify"})


@pytest.mark.parametrize("mode", ["421", "silent"])
async def test_server_without_cap(fake: FakeIrcd, make_bot: MakeBot, mode: str) -> None:
    fake.cap_mode = mode
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    assert bot.caps == frozenset() and bot.status().last_error is None


async def test_server_without_cap_but_sasl_configured(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.cap_mode = "421"
    bot = await make_bot(irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="right"))
    await joined(bot)
    assert "SASL failed" in (bot.status().last_error or "")


# --- bot mode --------------------------------------------------------------------

async def test_bot_mode_from_isupport(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.isupport = "CHANTYPES=# BOT=B NICKLEN=30"
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    await fake.wait(lambda: any(m.command == "MODE" for m in fake.conns[0].received))
    modes = [m.params for m in fake.conns[0].received if m.command == "MODE"]
    assert modes == [("ntrbot", "+B")] and bot.bot_mode == "B"


async def test_no_bot_mode_without_isupport_bot(fake: FakeIrcd, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    bot.send_raw("PING :fence")
    await fake.wait(lambda: "PING" in fake.commands(0))
    assert "MODE" not in fake.commands(0) and bot.bot_mode is None
