"""Real Sopel and Limnoria processes with the plugins, on a real miniircd, fed by the stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bots import BotProcess, astart_limnoria, astart_sopel, start_both
from tests.support.compat_plugins import TOKEN, sample_shows
from tests.support.net import wait_until
from tests.support.rawirc import Msg, RawIrc
from tests.support.standins import NtrStandIn

CHANNEL = "#ntrcompat"
SOPEL_NICK = "ntrsopel"
LIMNORIA_NICK = "ntrlimno"

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def standin() -> AsyncIterator[NtrStandIn]:
    server = NtrStandIn(TOKEN, sample_shows()).start()
    yield server
    await asyncio.to_thread(server.stop)


def names_of(irc_host: str) -> dict[str, str]:
    """The relay name each bot subscribes with: nick@server (Sopel), nick@network (Limnoria)."""
    return {SOPEL_NICK: f"{SOPEL_NICK}@{irc_host}", LIMNORIA_NICK: f"{LIMNORIA_NICK}@test"}


async def test_real_sopel_and_limnoria_relay_and_answer(
    miniircd: Any, standin: NtrStandIn, tmp_path: Path
) -> None:
    host, port = miniircd.host, miniircd.port
    watcher = await RawIrc.connect(host, port, "watcher")
    await watcher.join(CHANNEL)
    bots: list[BotProcess] = []
    try:
        common = dict(
            channel=CHANNEL,
            ws_url=standin.ws_url,
            api_base_url=standin.base_url,
            admin_token=TOKEN,
            tmpdir=tmp_path,
        )
        bots += await start_both(
            astart_sopel(host, port, SOPEL_NICK, **common),
            astart_limnoria(host, port, LIMNORIA_NICK, **common),
        )
        await watcher.wait_for(lambda m: m.command == "JOIN" and m.nick == SOPEL_NICK)
        await watcher.wait_for(lambda m: m.command == "JOIN" and m.nick == LIMNORIA_NICK)
        await wait_until(lambda: len(standin.clients) == 2)
        names = names_of(host)
        assert sorted(standin.subscribe_attempts, key=lambda a: a["name"]) == [
            {"type": "subscribe", "token": TOKEN, "name": names[nick], "acks": True}
            for nick in sorted(names, key=lambda k: names[k])
        ]

        # an announce reaches the channel from both bots, as one clean line
        since = watcher.mark()
        sent = await asyncio.to_thread(
            standin.announce, "Now Playing: Song #1: First Song by Artist 1 - https://x\r\nQUIT"
        )
        assert sent == 2
        for nick in (SOPEL_NICK, LIMNORIA_NICK):
            msg = await watcher.wait_privmsg(nick, CHANNEL, since=since, contains="Now Playing")
            assert msg.params[-1] == "Now Playing: Song #1: First Song by Artist 1 - https://x QUIT"

        # commands answered through the HTTP API, in each bot's own style
        since = watcher.mark()
        await watcher.say(CHANNEL, "!song 1")
        for nick in (SOPEL_NICK, LIMNORIA_NICK):
            await watcher.wait_privmsg(
                nick, CHANNEL, since=since, contains="Song #1: First Song by Artist 1"
            )
        since = watcher.mark()
        await watcher.say(CHANNEL, "!np")
        for nick in (SOPEL_NICK, LIMNORIA_NICK):
            await watcher.wait_privmsg(
                nick, CHANNEL, since=since, contains="Now Playing: Song #1: First Song"
            )

        # round 2: each bot acks an announce carrying an id, once it posted it to the channel
        since = watcher.mark()
        await asyncio.to_thread(
            standin.announce, "Now Playing: Song #3: Third by Artist 3 - https://y", 3,
            announcement_id=101,
        )
        for nick in (SOPEL_NICK, LIMNORIA_NICK):
            msg = await watcher.wait_privmsg(nick, CHANNEL, since=since, contains="Third")
            assert msg.params[-1] == "Now Playing: Song #3: Third by Artist 3 - https://y"
        await wait_until(lambda: len(standin.acks_by_name(101)) == 2)
        assert standin.acks_by_name(101) == {
            name: [{"type": "ack", "id": 101, "ok": True}] for name in names.values()
        }
        # the announce of the start of this test (no id, as from an old server): never acked
        assert {m["id"] for m in standin.acks()} == {101}

        # a hostile announce: one line each, within 512 bytes as relayed, URL kept
        url = "https://soundcloud.com/some-artist/a-rather-long-track-name-1"
        for n, filler in enumerate(["Title ", "\u66f2"]):
            since = watcher.mark()
            hostile = (
                f"Now Playing: Song #1: \x01ACTION {(filler * 2000)[:2000]}\r\nQUIT :pwned"
                f"\x00\x0304,01red\x02 by Artist\n\r - {url}"
            )
            await asyncio.to_thread(standin.announce, hostile, announcement_id=110 + n)
            await asyncio.to_thread(standin.announce, "sentinel", announcement_id=120 + n)
            for nick in (SOPEL_NICK, LIMNORIA_NICK):
                await watcher.wait_privmsg(nick, CHANNEL, since=since, contains="sentinel")
                lines = [
                    m for m in watcher.messages(since)
                    if m.command == "PRIVMSG" and m.nick == nick and m.params[-1] != "sentinel"
                ]
                assert len(lines) == 1, lines
                [line] = lines
                assert len(line.raw.encode()) + 2 <= 512, (nick, len(line.raw.encode()))
                assert len(line.raw.encode()) > 400, line.raw
                assert line.params[-1].startswith("Now Playing: Song #1: ACTION ")
                assert line.params[-1].endswith("\u2026 " + url), line.raw
                assert not [c for c in line.raw if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0]

            def acked(n: int = n) -> bool:
                return len(standin.acks_by_name(120 + n)) == 2
            await wait_until(acked)
            assert all(
                acks == [{"type": "ack", "id": 110 + n, "ok": True}]
                for acks in standin.acks_by_name(110 + n).values()
            )

        # ntrbot "restarts": the plugins reconnect (first retry <= 2 s) and relay the next one
        await asyncio.to_thread(standin.kick_all, 1012)
        await wait_until(lambda: len(standin.subscribe_attempts) >= 4 and len(standin.clients) == 2)
        assert {a["name"] for a in standin.subscribe_attempts[2:]} == set(names.values())
        since = watcher.mark()
        await asyncio.to_thread(standin.announce, "Now Playing: Song #2: after restart", 2)
        for nick in (SOPEL_NICK, LIMNORIA_NICK):
            await watcher.wait_privmsg(nick, CHANNEL, since=since, contains="after restart")

        # both stop cleanly on SIGTERM, quitting IRC and leaving the hub
        since = watcher.mark()
        started = time.monotonic()
        codes = await asyncio.gather(*(asyncio.to_thread(b.stop) for b in bots))
        assert time.monotonic() - started < 20
        assert codes == [0, 0], [b.log()[-3000:] for b in bots]
        for nick in (SOPEL_NICK, LIMNORIA_NICK):

            def quit_of(m: Msg, n: str = nick) -> bool:
                return m.command == "QUIT" and m.nick == n
            await watcher.wait_for(quit_of, 10, since)
        await wait_until(lambda: standin.clients == [])
    finally:
        for bot in bots:
            await asyncio.to_thread(bot.stop)
        await watcher.close()


async def test_real_bots_ack_false_when_they_cannot_post(
    miniircd: Any, standin: NtrStandIn, tmp_path: Path
) -> None:
    """announce_channel is a channel the bots never joined: nothing is said, ok:false + reason."""
    host, port = miniircd.host, miniircd.port
    elsewhere = "#ntrnowhere"
    watcher = await RawIrc.connect(host, port, "watcher2")
    await watcher.join(CHANNEL)
    await watcher.join(elsewhere)
    bots: list[BotProcess] = []
    try:
        common = dict(
            channel=CHANNEL,
            ws_url=standin.ws_url,
            api_base_url=standin.base_url,
            admin_token=TOKEN,
            tmpdir=tmp_path,
            announce_channel=elsewhere,
        )
        bots += await start_both(
            astart_sopel(host, port, SOPEL_NICK, **common),
            astart_limnoria(host, port, LIMNORIA_NICK, **common),
        )
        await wait_until(lambda: len(standin.clients) == 2)
        since = watcher.mark()
        await asyncio.to_thread(standin.announce, "Now Playing: unheard", announcement_id=201)
        await wait_until(lambda: len(standin.acks_by_name(201)) == 2, timeout=20)
        names = names_of(host)
        assert standin.acks_by_name(201) == {
            names[SOPEL_NICK]: [
                {"type": "ack", "id": 201, "ok": False, "detail": f"not in {elsewhere}"}
            ],
            names[LIMNORIA_NICK]: [
                {
                    "type": "ack",
                    "id": 201,
                    "ok": False,
                    "detail": f"not in {elsewhere} on any network",
                }
            ],
        }
        assert not [
            m for m in watcher.messages(since) if m.command == "PRIVMSG" and "unheard" in m.raw
        ]
    finally:
        for bot in bots:
            await asyncio.to_thread(bot.stop)
        await watcher.close()
