"""The IRC server killed and restarted again and again during a show: rejoin, deliver once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.constants import ADMIN_TOKEN, BEARER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.ircd import NGIRCD, IrcServer
from tests.support.net import free_port, wait_until
from tests.support.process import REPO, NtrbotProcess
from tests.support.rawirc import RawIrc
from tests.support.reliability import sample_likes, show_week_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

CHANNEL = "#ntrshow"
NICK = "ntrbot"
CYCLES = 10
SITE = Path(__file__).resolve().parent / "site"
IRCD_KIND = "ngircd" if NGIRCD else "miniircd"


class Gate:
    """A loopback TCP relay in front of the IRC server that the test opens and shuts.

    While shut nothing listens (connection refused), so the bot can only come back once the
    test's observer sits in the channel again and sees every line the bot sends.
    """

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def close(self) -> None:
        await self.shut()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        for task in (asyncio.create_task(pipe(reader, up_w)),
                     asyncio.create_task(pipe(up_r, writer))):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)


@pytest.fixture
def ircd() -> Iterator[IrcServer]:
    server = IrcServer(IRCD_KIND)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
async def gate(ircd: IrcServer) -> AsyncIterator[Gate]:
    g = Gate(ircd.port)
    await g.open()
    try:
        yield g
    finally:
        await g.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud(likes=sample_likes(25)) as sc:
        yield sc


def bot_env(fake: FakeSoundCloud, gate: Gate, fresh: float) -> dict[str, str]:
    return {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
            "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base, **show_week_env(),
            "NTR_IRC_SERVER": "127.0.0.1", "NTR_IRC_PORT": str(gate.port), "NTR_IRC_NICK": NICK,
            "NTR_IRC_CHANNELS": CHANNEL, "NTR_ANNOUNCE_CHANNEL": CHANNEL,
            "NTR_IRC_FLOOD_BURST": "100", "NTR_ANNOUNCE_FRESH_SECONDS": str(fresh),
            "NTRTEST_BACKOFF": "0.2,0.5,0.5",
            "PYTHONPATH": os.pathsep.join([str(SITE), str(REPO)])}


class Show:
    """The running bot, the HTTP side and every observer line of the night."""

    def __init__(self, bot: NtrbotProcess, ircd: IrcServer, gate: Gate) -> None:
        self.bot, self.ircd, self.gate = bot, ircd, gate
        self.http = httpx.AsyncClient(base_url=bot.base_url, timeout=10)
        self.auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.observer: RawIrc | None = None
        self.lines: list[str] = []  # lines of earlier observers (each server life has one)
        self.show_id = 0

    async def health(self) -> dict[str, Any]:
        health: dict[str, Any] = (await self.http.get("/health")).json()
        return health

    async def in_channel(self) -> bool:
        irc = (await self.health())["irc"]
        return bool(irc["connected"]) and CHANNEL in irc["channels"]

    async def observe(self) -> RawIrc:
        if self.observer is not None:
            self.lines += self.observer.lines
            await self.observer.close()
        self.observer = await RawIrc.connect(self.ircd.host, self.ircd.port, "watcher")
        await self.observer.join(CHANNEL)
        return self.observer

    async def announce(self, position: int) -> dict[str, Any]:
        resp = await self.http.post("/admin/announce", headers=BEARER, json={
            "show_id": self.show_id, "position": position, "force": True})
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data

    async def delivery(self, ann_id: int) -> str:
        history = (await self.http.get(f"/shows/{self.show_id}/announcements",
                                        headers=self.auth)).json()
        state: str = next(a["delivery"] for a in history["announcements"] if a["id"] == ann_id)
        return state

    async def server_down(self) -> None:
        await self.gate.shut()
        await asyncio.to_thread(self.ircd.stop)  # SIGKILL
        await wait_until(lambda: self._disconnected(), timeout=20)

    async def _disconnected(self) -> bool:
        return not (await self.health())["irc"]["connected"]

    async def server_up(self) -> RawIrc:
        await asyncio.to_thread(self.ircd.start)
        obs = await self.observe()
        await self.gate.open()
        await obs.wait_for(lambda m: m.command == "JOIN" and m.nick == NICK, timeout=30)
        await wait_until(self.in_channel, timeout=20)
        return obs

    def said(self, text: str) -> int:
        """How many times the bot's PRIVMSG with exactly `text` reached the channel."""
        assert self.observer is not None
        n = 0
        for line in self.lines + self.observer.lines:
            if line.startswith(f":{NICK}!") and " PRIVMSG " in line and line.endswith(
                    " :" + text):
                n += 1
        return n

    async def close(self) -> None:
        if self.observer is not None:
            await self.observer.close()
        await self.http.aclose()


async def start_show(tmp_path: Path, fake: FakeSoundCloud, ircd: IrcServer, gate: Gate,
                     fresh: float) -> Show:
    bot = await NtrbotProcess(tmp_path, bot_env(fake, gate, fresh)).start()
    show = Show(bot, ircd, gate)
    await show.observe()
    await wait_until(show.in_channel, timeout=30)

    async def polled() -> bool:
        return len((await show.http.get("/playlist")).json()["tracks"]) == 25
    await wait_until(polled, timeout=30)
    show.show_id = (await show.http.get("/playlist")).json()["id"]
    return show


async def test_restarts_rejoin_and_deliver_queued_announces_once(
        tmp_path: Path, fake: FakeSoundCloud, ircd: IrcServer, gate: Gate) -> None:
    show = await start_show(tmp_path, fake, ircd, gate, fresh=120)
    messages: list[str] = []
    try:
        first = await show.announce(1)
        assert first["delivery"] == "delivered", first
        # seen before the server is killed (it may not have relayed it yet otherwise)
        await show.observer.wait_privmsg(NICK, CHANNEL, contains=first["message"])  # type: ignore[union-attr]
        messages.append(first["message"])
        for cycle in range(1, CYCLES + 1):
            await show.server_down()
            # one or two announces while IRC is down: accepted, queued, not lost
            down = [await show.announce(cycle + 1)]
            if cycle % 3 == 0:
                down.append(await show.announce(cycle + 13))
            assert [d["delivery"] for d in down] == ["queued"] * len(down), down
            obs = await show.server_up()  # the bot rejoined (JOIN seen by the observer)
            for d in down:
                await obs.wait_privmsg(NICK, CHANNEL, contains=d["message"], timeout=20)

                def delivered(d: dict[str, Any] = d) -> Awaitable[bool]:
                    return _is(show.delivery(d["announcement_id"]), "delivered")
                assert await wait_until(delivered, timeout=10)
                messages.append(d["message"])
            # and a live announce right after the rejoin goes straight out
            live = await show.announce(25)
            assert live["delivery"] == "delivered", live
            await obs.wait_privmsg(NICK, CHANNEL, contains=live["message"], timeout=20)
        marker = await show.announce(24)
        await show.observer.wait_privmsg(NICK, CHANNEL, contains=marker["message"])  # type: ignore[union-attr]
        for text in messages:
            assert show.said(text) == 1, f"{show.said(text)} x {text!r}"
        assert show.bot.proc is not None and show.bot.proc.poll() is None
        assert "Traceback" not in show.bot.log()
    finally:
        await show.close()
        await show.bot.stop()


async def _is(value: Any, want: str) -> bool:
    return bool((await value) == want)


async def test_announces_older_than_fresh_seconds_expire_and_are_never_sent(
        tmp_path: Path, fake: FakeSoundCloud, ircd: IrcServer, gate: Gate) -> None:
    show = await start_show(tmp_path, fake, ircd, gate, fresh=1.0)
    try:
        for cycle in range(2):
            await show.server_down()
            stale = await show.announce(cycle + 2)
            assert stale["delivery"] == "queued"
            # reported as expired once the freshness window has passed

            def expired(s: dict[str, Any] = stale) -> Awaitable[bool]:
                return _is(show.delivery(s["announcement_id"]), "expired")
            assert await wait_until(expired, timeout=15)
            obs = await show.server_up()
            marker = await show.announce(20 + cycle)
            assert marker["delivery"] == "delivered"
            await obs.wait_privmsg(NICK, CHANNEL, contains=marker["message"])
            assert show.said(stale["message"]) == 0
        assert "Traceback" not in show.bot.log()
    finally:
        await show.close()
        await show.bot.stop()
