"""Real Sopel and Limnoria processes with the plugins, on a real miniircd, fed by the stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import TOKEN, sample_shows
from tests.compat.standins import NtrStandIn
from tests.support.bots import BotProcess, astart_limnoria, astart_sopel, start_both
from tests.support.rawirc import RawIrc

CHANNEL = "#ntrcompat"
SOPEL_NICK = "ntrsopel"
LIMNORIA_NICK = "ntrlimno"

pytestmark = pytest.mark.timeout(90)


async def wait_until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def standin() -> AsyncIterator[NtrStandIn]:
    server = NtrStandIn(TOKEN, sample_shows()).start()
    yield server
    await asyncio.to_thread(server.stop)


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
        assert all(a == {"type": "subscribe", "token": TOKEN} for a in standin.subscribe_attempts)

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

        # ntrbot "restarts": the plugins reconnect (first retry <= 2 s) and relay the next one
        await asyncio.to_thread(standin.kick_all, 1012)
        await wait_until(lambda: len(standin.subscribe_attempts) >= 4 and len(standin.clients) == 2)
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
            await watcher.wait_for(lambda m, n=nick: m.command == "QUIT" and m.nick == n, 10, since)
        await wait_until(lambda: standin.clients == [])
    finally:
        for bot in bots:
            await asyncio.to_thread(bot.stop)
        await watcher.close()
