"""SASL: SCRAM-SHA-256 (RFC 7677 vector), mechanism choice, and PLAIN / SCRAM / EXTERNAL
exchanges against the fake server (EXTERNAL over TLS with a client certificate)."""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ntrbot.irc.client import IrcClient
from ntrbot.irc.sasl import Sasl, candidates, chunks
from ntrbot.irc.scram import ScramClient, ScramError
from tests.support.certs import make_cert
from tests.support.fakeircd import FakeIrcd
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.net import wait_until

# RFC 7677 section 3
C_NONCE = "rOprNGfwEbeRWgbNEkqO"
S_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
C_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
           b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
S_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_scram_sha_256_rfc7677_vector() -> None:
    c = ScramClient("user", "pencil", nonce=C_NONCE)
    assert c.client_first() == b"n,,n=user,r=" + C_NONCE.encode()
    assert c.client_final(S_FIRST) == C_FINAL
    c.verify(S_FINAL)  # no exception: the server knows the password
    with pytest.raises(ScramError, match="wrong server signature"):
        c.verify(b"v=" + base64.b64encode(bytes(32)))


@pytest.mark.parametrize("server_first", [
    b"r=someoneelse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  # nonce not ours
    b"r=" + C_NONCE.encode() + b",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  # not extended
    b"r=" + C_NONCE.encode() + b"x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
    b"m=ext,r=" + C_NONCE.encode() + b"x,s=W22Z,i=4096",
    b"e=other-error",
    b"garbage",
])
def test_scram_refuses_bad_server_first(server_first: bytes) -> None:
    with pytest.raises(ScramError):
        ScramClient("user", "pencil", nonce=C_NONCE).client_final(server_first)


def test_scram_escapes_the_user_name() -> None:
    assert ScramClient("a=b,c", "p", nonce="n").client_first() == b"n,,n=a=3Db=2Cc,r=n"


def test_chunks_and_plus_rules() -> None:
    assert chunks(b"") == ["+"]
    assert chunks(b"abc") == ["YWJj"]
    assert [len(c) for c in chunks(b"x" * 300)] == [400, 1]  # exactly 400 -> closing "+"
    assert chunks(b"x" * 300)[-1] == "+"
    parts = chunks(b"y" * 700)
    assert [len(c) for c in parts[:-1]] == [400, 400] and parts[-1] != "+"
    assert base64.b64decode("".join(parts)) == b"y" * 700


def test_candidates() -> None:
    assert candidates("auto", has_cert=True, has_password=True) == [
        "EXTERNAL", "SCRAM-SHA-256", "PLAIN"]
    assert candidates("auto", has_cert=False, has_password=True) == ["SCRAM-SHA-256", "PLAIN"]
    assert candidates("auto", has_cert=True, has_password=False) == ["EXTERNAL"]
    assert candidates("auto", has_cert=False, has_password=False) == []
    assert candidates("scram-sha-256", has_cert=True, has_password=True) == ["SCRAM-SHA-256"]


def test_unlisted_mechanisms_are_tried_in_order_and_908_narrows() -> None:
    sent: list[str] = []
    done: list[bool] = []
    sasl = Sasl("bot", "pw", sent.append)
    sasl.begin()
    sasl.start(None, lambda: done.append(True))
    assert sent == ["AUTHENTICATE SCRAM-SHA-256"]
    sasl.on_mechanisms(["PLAIN", "EXTERNAL"])
    sasl.on_failure("SASL authentication failed")
    assert sent[-1] == "AUTHENTICATE PLAIN" and not done
    sasl.on_authenticate("+")
    assert base64.b64decode(sent[-1].split()[1]) == b"bot\0bot\0pw"
    sasl.on_success()
    assert done == [True] and sasl.state == "done"


def test_no_common_mechanism_fails_and_ends() -> None:
    sent: list[str] = []
    errors: list[str] = []
    done: list[bool] = []
    sasl = Sasl("bot", "pw", sent.append, errors.append, mechanism="SCRAM-SHA-256")
    sasl.start(["PLAIN", "EXTERNAL"], lambda: done.append(True))
    assert sent == [] and done == [True] and "SCRAM-SHA-256" in errors[0]


# --- against the fake server ----------------------------------------------------

@pytest.fixture
async def fake() -> AsyncIterator[FakeIrcd]:
    server = await FakeIrcd().start()
    yield server
    await server.close()


async def joined(bot: IrcClient) -> None:
    await wait_until(lambda: CHANNEL in bot.status().channels, 20, "join")


def authenticates(server: FakeIrcd, conn: int = 0) -> list[str]:
    return [m.params[0] for m in server.conns[conn].received if m.command == "AUTHENTICATE"]


async def test_scram_exchange_picked_by_auto(fake: FakeIrcd, make_bot: MakeBot,
                                             caplog: pytest.LogCaptureFixture) -> None:
    fake.caps = "sasl=PLAIN,SCRAM-SHA-256 server-time"
    settings = irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="right")
    with caplog.at_level(logging.DEBUG):
        bot = await make_bot(settings)
        await joined(bot)
    sent = authenticates(fake)
    assert sent[0] == "SCRAM-SHA-256" and len(sent) == 4 and sent[-1] == "+"
    assert fake.conns[0].sasl.outcomes == ["SCRAM-SHA-256 ok"]
    assert bot.status().last_error is None and "succeeded" in caplog.text
    assert "AUTHENTICATE SCRAM-SHA-256" in caplog.text
    for secret in ("right", sent[1], sent[2]):
        assert secret not in caplog.text
    assert "srvNonce42" not in caplog.text  # the server's payloads are hidden too


async def test_scram_wrong_server_signature_is_a_failure(fake: FakeIrcd, make_bot: MakeBot,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    fake.caps = "sasl=SCRAM-SHA-256"
    fake.scram_bad_signature = True
    settings = irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="right")
    with caplog.at_level(logging.INFO, logger="ntrbot.irc"):
        bot = await make_bot(settings)
        await joined(bot)
    assert authenticates(fake)[-1] == "*" and fake.conns[0].sasl.outcomes == ["aborted"]
    assert "wrong server signature" in (bot.status().last_error or "")
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_scram_refused_never_falls_back_to_plain(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.caps = "sasl"  # mechanisms unlisted: the strongest first
    fake.sasl_mechs = ["SCRAM-SHA-256", "PLAIN"]
    settings = irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="wrong")
    bot = await make_bot(settings)
    await joined(bot)
    # the password is never sent in the clear to a server that refused it over SCRAM
    assert fake.conns[0].sasl.outcomes == ["SCRAM-SHA-256 failed"]
    assert "PLAIN" not in authenticates(fake)
    assert (bot.status().last_error or "").startswith("SASL failed: SCRAM-SHA-256")


async def test_unlisted_mechanisms_fall_back_after_908(fake: FakeIrcd, make_bot: MakeBot) -> None:
    fake.caps = "sasl"
    fake.sasl_mechs = ["PLAIN"]
    bot = await make_bot(irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="right"))
    await joined(bot)
    assert authenticates(fake)[:2] == ["SCRAM-SHA-256", "PLAIN"]
    assert fake.conns[0].sasl.outcomes == ["PLAIN ok"] and bot.status().last_error is None


async def test_plain_when_asked_for_even_if_scram_offered(fake: FakeIrcd,
                                                          make_bot: MakeBot) -> None:
    fake.caps = "sasl=SCRAM-SHA-256,PLAIN"
    bot = await make_bot(irc_settings(fake, irc_sasl_user="bot", irc_sasl_password="right",
                                      irc_sasl_mechanism="PLAIN"))
    await joined(bot)
    assert authenticates(fake)[0] == "PLAIN"
    assert fake.conns[0].sasl.outcomes == ["PLAIN ok"]


@pytest.mark.parametrize("separate_key", [True, False])
async def test_external_with_a_client_certificate_over_tls(tmp_path: Path, make_bot: MakeBot,
                                                           separate_key: bool) -> None:
    server_cert, _ = make_cert(tmp_path, "server", separate_key=False)
    client_cert, client_key = make_cert(tmp_path, "ntrbot", separate_key=separate_key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate: no handshake
    ctx.load_verify_locations(client_cert)
    server = await FakeIrcd(ssl=ctx).start()
    server.caps = "sasl=EXTERNAL,PLAIN,SCRAM-SHA-256"
    try:
        settings = irc_settings(server, irc_tls=True, irc_tls_verify=False,
                                irc_tls_cert=str(client_cert),
                                irc_tls_key=str(client_key) if client_key else None)
        bot = await make_bot(settings)
        await joined(bot)
        conn = server.conns[0]
        assert conn.peercert  # the certificate was presented
        from cryptography import x509
        assert x509.load_der_x509_certificate(conn.peercert).subject.rfc4514_string() == (
            "CN=ntrbot")
        assert authenticates(server) == ["EXTERNAL", "+"]
        assert conn.sasl.outcomes == ["EXTERNAL ok"] and bot.status().last_error is None
    finally:
        await server.close()


async def test_unloadable_client_certificate_is_a_reported_connect_failure(
        tmp_path: Path, make_bot: MakeBot) -> None:
    from ntrbot.settings import Settings
    server_cert, _ = make_cert(tmp_path, "server", separate_key=False)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server_cert)
    server = await FakeIrcd(ssl=ctx).start()
    gone = tmp_path / "gone.pem"
    try:  # the file vanished after check-config: no validate() here, as at runtime
        settings = Settings(admin_token="x" * 32, irc_server=server.host, irc_port=server.port,
                            irc_tls=True, irc_tls_verify=False, irc_tls_cert=str(gone))
        bot = await make_bot(settings)
        await wait_until(lambda: bot.status().last_error is not None, 20, "an error")
        assert "connect to" in (bot.status().last_error or "")
        assert bot._main is not None and not bot._main.done()  # still retrying
    finally:
        await server.close()


def test_unknown_authenticate_fails_and_ends() -> None:
    sent: list[str] = []
    done: list[bool] = []
    sasl = Sasl("bot", "pw", sent.append)
    sasl.start(None, lambda: done.append(True))
    sasl.on_unknown_command("AUTHENTICATE")
    assert sasl.state == "failed" and done == [True] and sent == ["AUTHENTICATE SCRAM-SHA-256"]
