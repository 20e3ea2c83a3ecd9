"""IRCv3 STS over real sockets and real TLS: upgrade, remember, refresh, clear, expire."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ntrbot.irc.client import IrcClient
from ntrbot.irc.sts import Sts, StsStore, parse_value, policy_path
from ntrbot.irc.transport import tls_context
from tests.support.certs import make_cert
from tests.support.fakeircd import FakeIrcd
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.net import wait_until


@pytest.fixture
def trusted_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ssl.SSLContext]:
    """A server TLS context whose self-signed certificate the bot trusts (SSL_CERT_FILE)."""
    cert, key = make_cert(tmp_path, "server", separate_key=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    tls_context.cache_clear()
    yield ctx
    tls_context.cache_clear()


async def servers(ctx: ssl.SSLContext, duration: str = "300") -> tuple[FakeIrcd, FakeIrcd]:
    secure = await FakeIrcd(ssl=ctx).start()
    secure.caps = f"multi-prefix sts=duration={duration}"
    plain = await FakeIrcd().start()
    plain.caps = f"multi-prefix sts=port={secure.port}"
    return plain, secure


def read_policies(db: str) -> dict[str, Any]:
    policies: dict[str, Any] = json.loads(Path(policy_path(db) or "").read_text())
    return policies


def write_policy(db: str, port: int, expires: float) -> None:
    Path(policy_path(db) or "").write_text(json.dumps({"127.0.0.1": {
        "port": port, "duration": 300, "expires": expires}}))


def has_policy_file(db: str) -> bool:
    return Path(policy_path(db) or "").exists()


def in_channel(bot: IrcClient) -> bool:
    return CHANNEL in bot.status().channels


async def test_upgrade_remember_and_start_on_tls(make_bot: MakeBot, trusted_cert: ssl.SSLContext,
                                                 tmp_path: Path) -> None:
    plain, secure = await servers(trusted_cert)
    db = str(tmp_path / "ntrbot.db")
    settings = irc_settings(plain, db_path=db)
    try:
        bot = await make_bot(settings)
        await wait_until(lambda: in_channel(bot), 20, "the join over TLS")
        st = bot.status()
        assert st.tls is True and st.server == f"127.0.0.1:{secure.port}"
        assert st.sts is not None
        assert st.sts["port"] == secure.port and st.sts["duration"] == 300
        assert len(plain.conns) == 1 and "QUIT" in plain.commands(0)
        assert "JOIN" not in plain.commands(0)
        stored = read_policies(db)
        assert stored["127.0.0.1"]["port"] == secure.port
        await bot.stop()

        # a later start goes straight to TLS on that port: the plaintext port is never tried
        again = await make_bot(settings)
        await wait_until(lambda: in_channel(again), 20, "the join of the second start")
        assert len(plain.conns) == 1 and len(secure.conns) == 2
        assert again.status().tls is True

        # duration=0 on TLS clears it: the next start is plaintext again (and upgraded again)
        await again.stop()
        secure.caps = "multi-prefix sts=duration=0"
        third = await make_bot(settings)
        await wait_until(lambda: len(secure.conns) == 3, 20, "the third start")
        await wait_until(lambda: in_channel(third), 20, "the third join")
        assert third.status().sts is None
        assert "127.0.0.1" not in read_policies(db)
        await third.stop()
        fourth = await make_bot(settings)
        await wait_until(lambda: len(plain.conns) == 2, 20, "a plaintext connect")
        await wait_until(lambda: in_channel(fourth), 20, "the fourth join")
    finally:
        await plain.close()
        await secure.close()


async def test_no_plaintext_while_a_policy_holds(make_bot: MakeBot, trusted_cert: ssl.SSLContext,
                                                 tmp_path: Path) -> None:
    plain, secure = await servers(trusted_cert)
    db = str(tmp_path / "ntrbot.db")
    write_policy(db, secure.port, time.time() + 300)
    await secure.close()  # TLS is down
    try:
        bot = await make_bot(irc_settings(plain, db_path=db))
        await wait_until(lambda: bot.status().last_error, 20, "a failed TLS connect")
        assert f":{secure.port} failed" in (bot.status().last_error or "")
        assert plain.conns == []  # never fell back to plaintext
    finally:
        await plain.close()


async def test_expired_policy_is_dropped(make_bot: MakeBot, tmp_path: Path) -> None:
    plain = await FakeIrcd().start()
    db = str(tmp_path / "ntrbot.db")
    write_policy(db, 1, time.time() - 1)
    try:
        bot = await make_bot(irc_settings(plain, db_path=db))
        await wait_until(lambda: in_channel(bot), 20, "the plaintext join")
        assert bot.status().tls is False and bot.status().sts is None
    finally:
        await plain.close()


async def test_unverified_tls_upgrades_but_does_not_remember(make_bot: MakeBot,
                                                             trusted_cert: ssl.SSLContext,
                                                             tmp_path: Path) -> None:
    plain, secure = await servers(trusted_cert)
    db = str(tmp_path / "ntrbot.db")
    try:
        bot = await make_bot(irc_settings(plain, db_path=db, irc_tls_verify=False))
        await wait_until(lambda: in_channel(bot), 20, "the join over TLS")
        assert bot.status().tls is True and bot.status().sts is None
        assert not has_policy_file(db)
    finally:
        await plain.close()
        await secure.close()


# --- units ---------------------------------------------------------------------------

class Wall:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_parse_value() -> None:
    assert parse_value("port=6697,duration=300,preload") == {
        "port": "6697", "duration": "300", "preload": ""}
    assert parse_value("Port=1,port=2") == {"port": "1"}
    assert parse_value(None) == {}


def test_bad_values_are_ignored(tmp_path: Path) -> None:
    sts = Sts("irc.example", 6667, False, verify=True, store=StsStore(None))
    for value in ("port=0", "port=70000", "port=abc", "duration=5", "", None):
        assert sts.on_caps({"sts": value}) is False
    assert sts.target() == (6667, False)
    secure = Sts("irc.example", 6697, True, verify=True, store=StsStore(None))
    assert secure.on_caps({"sts": "duration=-5"}) is False and secure.policy is None


def test_store_expiry_and_reschedule(tmp_path: Path) -> None:
    wall = Wall()
    path = str(tmp_path / "p.json")
    store = StsStore(path, clock=wall)
    store.set("IRC.Example", 6697, 100)
    wall.now += 60
    store.reschedule("irc.example")  # closing: 100 s from now
    wall.now += 90
    persisted = StsStore(path, clock=wall).get("irc.example")
    assert persisted is not None and persisted["port"] == 6697  # persisted
    wall.now += 11
    assert store.get("irc.example") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert StsStore(str(tmp_path / "bad.json")).get("x") is None  # ignored, logged
