"""IrcClient against a scripted in-process server: SASL, PASS, ping timeout, odd input."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ntrbot.irc.backend import IrcStatus
from ntrbot.irc.client import IrcClient
from ntrbot.irc.disabled import DisabledIrc
from ntrbot.settings import Settings
from tests.support.fakeircd import FakeIrcd
from tests.support.irc_services import CHANNEL, FakeServices, MakeBot, irc_settings
from tests.support.net import wait_until
from tests.support.rawirc import Msg


@pytest.fixture
async def fake() -> AsyncIterator[FakeIrcd]:
    server = await FakeIrcd().start()
    yield server
    await server.close()


async def joined(bot: IrcClient) -> None:
    await wait_until(lambda: CHANNEL in bot.status().channels, 20, "join")


async def test_registration_order_with_password_and_sasl(fake: FakeIrcd, make_bot: MakeBot,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    settings = irc_settings(fake, irc_password="srvpass", irc_sasl_user="bot",
                            irc_sasl_password="right")
    with caplog.at_level(logging.DEBUG):
        bot = await make_bot(settings)
        await joined(bot)
    got = fake.conns[0].received
    cmds = [m.command for m in got]
    assert cmds[:4] == ["CAP", "PASS", "NICK", "USER"]
    assert got[0].params == ("LS", "302") and got[1].params == ("srvpass",)
    auth = [m for m in got if m.command == "AUTHENTICATE"]
    assert auth[0].params == ("PLAIN",)
    assert base64.b64decode(auth[1].params[0]) == b"bot\0bot\0right"
    assert cmds.index("CAP", 1) < cmds.index("JOIN")
    assert bot.status().last_error is None
    assert "succeeded" in caplog.text
    for secret in ("srvpass", "right", auth[1].params[0]):
        assert secret not in caplog.text
    assert "PASS ***" in caplog.text


async def test_sasl_refused_is_loud_and_registration_continues(
        fake: FakeIrcd, make_bot: MakeBot, caplog: pytest.LogCaptureFixture) -> None:
    settings = irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="wrong")
    with caplog.at_level(logging.INFO, logger="ntrbot.irc"):
        bot = await make_bot(settings)
        await joined(bot)
    assert (bot.status().last_error or "").startswith("SASL failed")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "SASL" in errors[0].getMessage()
    assert "wrong" not in caplog.text


async def test_cap_ls_without_sasl_but_no_sasl_requested(fake: FakeIrcd, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    assert fake.commands(0)[:3] == ["CAP", "NICK", "USER"]
    assert not [m for m in fake.conns[0].received if m.command == "AUTHENTICATE"]
    assert "sasl" not in bot.caps


def keepalives(fake: FakeIrcd) -> list[Msg]:
    """The idle PINGs of the first connection (not the one probe right after the JOIN)."""
    return [m for m in fake.conns[0].received
            if m.command == "PING" and not m.params[-1].startswith("ntrbot-up")]


async def test_keepalive_is_tighter_while_the_show_is_live(fake: FakeIrcd,
                                                           make_bot: MakeBot) -> None:
    live = {"now": False}
    bot = await make_bot(irc_settings(fake), ping_interval=60.0, ping_timeout=60.0,
                         live_ping_interval=0.2, live_ping_timeout=0.4,
                         is_live=lambda: live["now"])
    await joined(bot)
    await asyncio.sleep(0.6)
    assert not keepalives(fake)  # off air: the long idle interval
    live["now"] = True
    await fake.wait(lambda: keepalives(fake))  # live: PING after 0.2 s idle
    fake.mute = True
    await fake.wait(lambda: len(fake.conns) >= 2)  # and a dead link is dropped soon
    assert "ping timeout" in (bot.status().last_error or "")
    fake.mute = False
    await joined(bot)


async def test_ping_timeout_reconnects(fake: FakeIrcd, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(fake), ping_interval=0.2, ping_timeout=0.4)
    await joined(bot)
    await fake.wait(lambda: "PING" in fake.commands(0))  # idle -> client PINGs
    assert len(fake.conns) == 1  # answered PING keeps the link
    fake.mute = True
    await fake.wait(lambda: len(fake.conns) >= 2)
    assert "ping timeout" in (bot.status().last_error or "")
    await asyncio.wait_for(fake.conns[0].closed.wait(), 10)
    assert fake.conns[0].reset  # nothing the kernel still held for it goes out later
    fake.mute = False
    await joined(bot)


async def test_a_dead_link_is_reset_and_the_line_sent_once_more(fake: FakeIrcd,
                                                                 make_bot: MakeBot) -> None:
    """Unconfirmed and the server silent: the link is reset (TCP RST, not a FIN), so the
    kernel drops the bytes it may still be retransmitting instead of delivering the line
    to the server after the network comes back; the line goes out again after the rejoin."""
    bot = await make_bot(irc_settings(fake), ping_interval=60.0, ping_timeout=60.0)
    await joined(bot)
    fake.mute = True
    d = await bot.say(CHANNEL, "Now Playing: one", confirm=True, fresh_for=120)
    await fake.wait(lambda: len(fake.conns) >= 2, timeout=30)
    await asyncio.wait_for(fake.conns[0].closed.wait(), 10)
    assert fake.conns[0].reset
    assert [m.params[-1] for m in fake.conns[0].received if m.command == "PRIVMSG"] == [
        "Now Playing: one"]
    fake.mute = False
    assert await d.wait(30) == "delivered" and d.attempts == 2
    assert [m.params[-1] for m in fake.conns[-1].received if m.command == "PRIVMSG"] == [
        "Now Playing: one"]


async def test_registration_timeout_reconnects(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.welcome = False
    bot = await make_bot(irc_settings(fake), register_timeout=0.3)
    await fake.wait(lambda: len(fake.conns) >= 2)
    assert "not registered" in (bot.status().last_error or "")
    fake.welcome = True
    await joined(bot)


async def test_server_error_text_is_kept(fake: FakeIrcd, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    fake.conns[0].send("ERROR :Closing Link: ntrbot (K-lined)")
    fake.conns[0].writer.close()
    await wait_until(lambda: not bot.status().connected, 20, "the drop")
    assert "K-lined" in (bot.status().last_error or "")
    await joined(bot)


async def test_non_utf8_and_garbage_input_do_not_drop_the_link(fake: FakeIrcd, make_bot: MakeBot,
                                                               services: FakeServices) -> None:
    bot = await make_bot(irc_settings(fake), services)
    await joined(bot)
    conn = fake.conns[0]
    conn.send(b":x!y@z PRIVMSG #sewerchat :caf\xe9 \xff\xfe broken")
    conn.send(b":x!y@z NOTICE")
    conn.send(b":x!y@z 999")
    conn.send(b":x!y@z PRIVMSG #sewerchat :!song \xff")
    conn.send(b":x!y@z PRIVMSG #sewerchat :!song 1")
    await fake.wait(lambda: any(m.command == "PRIVMSG" and "Song #1" in m.params[-1]
                                for m in conn.received))
    assert len(fake.conns) == 1 and bot.status().connected


async def test_one_user_cannot_hog_the_bot(fake: FakeIrcd, make_bot: MakeBot,
                                           services: FakeServices) -> None:
    bot = await make_bot(irc_settings(fake), services)
    await joined(bot)
    conn = fake.conns[0]
    for _ in range(12):
        conn.send(":spammer!s@spam.example PRIVMSG #sewerchat :!help")
    conn.send(":other!o@fine.example PRIVMSG #sewerchat :!song 3")

    def replies() -> list[str]:
        return [m.params[-1] for m in conn.received if m.command == "PRIVMSG"]
    await fake.wait(lambda: any(r.startswith("Song #3") for r in replies()))
    await asyncio.sleep(0.3)
    assert 1 <= sum(r.startswith("Commands:") for r in replies()) <= 7


async def test_kick_rejoins_after_delay(fake: FakeIrcd, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(fake), rejoin_delay=0.1)
    await joined(bot)
    conn = fake.conns[0]
    conn.send(f":op!o@h KICK {CHANNEL} ntrbot :out")
    await fake.wait(lambda: fake.commands(0).count("JOIN") == 2)
    await joined(bot)
    assert "kicked" in (bot.status().last_error or "")


async def test_announce_not_stuck_behind_replies(fake: FakeIrcd, make_bot: MakeBot,
                                                 services: FakeServices) -> None:
    settings = irc_settings(fake, irc_flood_burst=1, irc_flood_rate=5.0)
    bot = await make_bot(settings, services)
    await joined(bot)
    conn = fake.conns[0]
    for _ in range(3):
        conn.send(":x!y@z PRIVMSG #sewerchat :!help")  # 3 reply lines queue up
    await fake.wait(lambda: any(m.command == "PRIVMSG" for m in conn.received))
    d = await bot.say(CHANNEL, "ANNOUNCE", priority=True)
    assert await asyncio.wait_for(d.done, 20) == "sent"

    def privmsgs() -> list[str]:
        return [m.params[-1] for m in conn.received if m.command == "PRIVMSG"]
    await fake.wait(lambda: len(privmsgs()) == 4)
    assert privmsgs().index("ANNOUNCE") <= 1


async def test_status_listener_and_stop_sends_quit(fake: FakeIrcd, make_bot: MakeBot) -> None:
    seen: list[IrcStatus] = []
    bot = await make_bot(irc_settings(fake))
    bot.add_listener(seen.append)

    def broken(st: IrcStatus) -> None:
        raise ZeroDivisionError  # as `1 / 0` would
    bot.add_listener(broken)  # a broken listener hurts no one
    await joined(bot)
    assert any(s.connected for s in seen)
    await bot.stop("bye now")
    await fake.wait(lambda: "QUIT" in fake.commands(0))
    assert fake.conns[0].received[-1].params == ("bye now",)
    d = await bot.say(CHANNEL, "after stop")
    assert d.status == "failed" and d.done.done()


async def test_say_edge_cases(fake: FakeIrcd, make_bot: MakeBot) -> None:
    bot = await make_bot(irc_settings(fake))
    await joined(bot)
    empty = await bot.say(CHANNEL, "\r\n\x00")
    assert empty.status == "failed" and await empty.done == "failed"
    other = await bot.say("someone", "private line\r\nQUIT")
    assert other.status == "sent" and other.line == "private line QUIT"
    conn = fake.conns[0]
    await fake.wait(lambda: any(m.params == ("someone", "private line QUIT")
                                for m in conn.received))


async def test_connect_failure_is_reported_and_retried(make_bot: MakeBot) -> None:
    from tests.support.net import free_port

    class Nowhere:
        host, port = "127.0.0.1", free_port()

    bot = await make_bot(irc_settings(Nowhere))
    await wait_until(lambda: bot.status().last_error is not None, 20, "an error")
    st = bot.status()
    assert not st.connected and "connect to" in (st.last_error or "")
    d = await bot.say(CHANNEL, "x", priority=True, fresh_for=0.1)
    assert d.status == "queued" and await asyncio.wait_for(d.done, 10) == "expired"


async def test_disabled_irc(settings: Settings) -> None:
    off = DisabledIrc(settings)
    await off.start()
    d = await off.say(CHANNEL, "hello\nworld", priority=True)
    assert (d.status, d.detail, d.line) == ("failed", "IRC is off", "hello world")
    assert await d.done == "failed"
    assert off.status().enabled is False and off.status().connected is False
    await off.stop()


def test_status_json_is_the_health_object(settings: Settings) -> None:
    """IrcStatus.to_json() is /health's `irc`: the same keys and values as the dict it was."""
    assert DisabledIrc(settings).status().to_json() == {
        "enabled": False, "connected": False, "server": None, "nick": None, "channels": [],
        "last_error": None, "queued": 0, "caps": [], "reconnects": 0,
        "reconnects_by_reason": {}, "last_disconnect_reason": None}
    on = IrcStatus(enabled=True, connected=True, server="h:6697", tls=True,
                   sts={"port": 6697, "duration": 300, "expires_in": 299}, nick="ntrbot",
                   channels=("#a", "#b"), join_refusals=({"channel": "#c"},),
                   join_refusal_counts={"474": 1}, unconfirmed=1, caps=("echo-message",),
                   reconnects=1, reconnects_by_reason={"dead_link": 1},
                   last_disconnect_reason="dead_link")
    assert list(on.to_json()) == [
        "enabled", "connected", "server", "tls", "sts", "nick", "channels", "join_refusals",
        "join_refusal_counts", "last_error", "queued", "unconfirmed", "caps", "reconnects",
        "reconnects_by_reason", "last_disconnect_reason"]
    assert on.to_json()["channels"] == ["#a", "#b"] and on.to_json()["caps"] == ["echo-message"]
    assert on.to_json()["join_refusals"] == [{"channel": "#c"}]


def test_client_needs_a_server(make_settings: None = None) -> None:
    with pytest.raises(ValueError):
        IrcClient(Settings(admin_token="x" * 32))


def self_signed(tmp_path: Path) -> Path:
    """A throwaway certificate for 127.0.0.1 (made with `cryptography`)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return pem


@pytest.mark.parametrize("verify", [True, False])
async def test_tls_verifies_certificates_unless_told_not_to(tmp_path: Path, make_bot: MakeBot,
                                                            verify: bool) -> None:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(self_signed(tmp_path))
    server = await FakeIrcd(ssl=ctx).start()
    try:
        bot = await make_bot(irc_settings(server, irc_tls=True, irc_tls_verify=verify))
        if verify:  # self-signed: refused, and the reason is reported
            await wait_until(lambda: bot.status().last_error is not None, 20, "an error")
            assert "CERTIFICATE_VERIFY_FAILED" in (bot.status().last_error or "")
            assert not bot.status().connected
        else:
            await joined(bot)
            assert bot.status().tls is True
    finally:
        await server.close()
