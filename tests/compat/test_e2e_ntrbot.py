"""End-to-end: real ntrbot, miniircd, Sopel and Limnoria; an API announce reaches IRC 3 times."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.bots import BotProcess, astart_limnoria, astart_sopel, start_both
from tests.support.fake_soundcloud import FakeSoundCloud, make_like
from tests.support.net import free_port, wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

TOKEN = "compat-e2e-admin-token-0123456789"
RELAY_TOKEN = "compat-e2e-relay-token-0123456789"  # subscribe-only (NTR_RELAY_TOKENS)
CHANNEL = "#sewerchat"
NTRBOT = "ntrbot"
SOPEL_NICK = "ntrsopel"
LIMNORIA_NICK = "ntrlimno"
ALL_NICKS = (NTRBOT, SOPEL_NICK, LIMNORIA_NICK)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud() as sc:
        yield sc


def ntrbot_env(fake: FakeSoundCloud, irc_port: int) -> dict[str, str]:
    return {
        "NTR_ADMIN_TOKEN": TOKEN,
        "NTR_RELAY_TOKENS": RELAY_TOKEN,
        "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
        "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base,
        "NTR_SHOW_TIMEZONE": "UTC",
        # the show week started 3 days ago, so "now" is inside a known week whatever today is
        "NTR_SHOW_DAY": str((datetime.now(UTC) - timedelta(days=3)).weekday()),
        "NTR_SHOW_HOUR": "0",
        "NTR_IRC_SERVER": "127.0.0.1",
        "NTR_IRC_PORT": str(irc_port),
        "NTR_IRC_NICK": NTRBOT,
        "NTR_IRC_CHANNELS": CHANNEL,
        "NTR_ANNOUNCE_CHANNEL": CHANNEL,
    }


async def announce(http: httpx.AsyncClient, show_id: int, position: int) -> dict[str, Any]:
    response = await http.post(
        "/admin/announce",
        json={"show_id": show_id, "position": position},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def subscribers(http: httpx.AsyncClient) -> int:
    try:
        return int((await http.get("/health")).json()["subscribers"])
    except (httpx.HTTPError, ValueError, KeyError):
        return -1


async def test_announce_reaches_irc_from_ntrbot_sopel_and_limnoria_and_survives_restart(
    fake: FakeSoundCloud, miniircd: Any, tmp_path: Path
) -> None:
    week_start = (datetime.now(UTC) - timedelta(days=3)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    fake.set_likes(
        [
            make_like(11, week_start + timedelta(hours=1), title="First", artist="DJ One"),
            make_like(12, week_start + timedelta(hours=2), title="Second", artist="DJ Two"),
        ]
    )
    workdir = tmp_path / "ntrbot"
    workdir.mkdir()
    port = free_port()
    env = ntrbot_env(fake, miniircd.port)
    ntrbot = await NtrbotProcess(workdir, env, port=port).start()
    watcher = await RawIrc.connect(miniircd.host, miniircd.port, "watcher")
    await watcher.join(CHANNEL)
    bots: list[BotProcess] = []
    try:
        async with httpx.AsyncClient(base_url=ntrbot.base_url, timeout=5) as http:

            async def current_show() -> dict[str, Any] | None:
                body = (await http.get("/playlist")).json()
                return body if len(body.get("tracks", [])) == 2 else None

            show = await wait_until(current_show)
            common = dict(
                channel=CHANNEL,
                ws_url=f"ws://127.0.0.1:{port}/ws/announce",
                api_base_url=ntrbot.base_url,
                admin_token=RELAY_TOKEN,
                tmpdir=tmp_path,
            )
            bots += await start_both(
                astart_sopel(miniircd.host, miniircd.port, SOPEL_NICK, **common),
                astart_limnoria(miniircd.host, miniircd.port, LIMNORIA_NICK, **common),
            )
            await wait_in_channel(watcher, NTRBOT)
            assert await wait_until(lambda: _is(subscribers(http), 2)) is True

            since = watcher.mark()
            body = await announce(http, show["id"], 1)
            assert body["subscribers"] == 2
            text = body["message"]
            assert "First" in text and "DJ One" in text
            for nick in ALL_NICKS:
                msg = await watcher.wait_privmsg(nick, CHANNEL, since=since, contains="First")
                assert msg.params[-1] == text
            assert body["delivery"] == "delivered"  # ntrbot's own line, confirmed

            # both plugins ack after their bot posted it: every output ends delivered
            async def outputs() -> dict[str, str] | None:
                items = (await http.get(f"/shows/{show['id']}/announcements",
                                        headers={"Authorization": f"Bearer {TOKEN}"})).json()
                states = {d["output"]: d["state"]
                          for d in items["announcements"][-1]["deliveries"]}
                return states if set(states.values()) == {"delivered"} else None

            states = await wait_until(outputs, timeout=20)
            assert states is not None and len(states) == 3
            relays = sorted(o for o in states if o.startswith("relay:"))
            assert relays[0].startswith(f"relay:{LIMNORIA_NICK}@")
            assert relays[1].startswith(f"relay:{SOPEL_NICK}@")
            # the relay token may subscribe but never announce
            r = await http.post("/admin/announce", json={"show_id": show["id"], "position": 2},
                                headers={"Authorization": f"Bearer {RELAY_TOKEN}"})
            assert r.status_code in (401, 403)

            # the compat bots answer commands from the real API
            since = watcher.mark()
            await watcher.say(CHANNEL, "!song 2")
            for nick in (SOPEL_NICK, LIMNORIA_NICK):
                await watcher.wait_privmsg(
                    nick, CHANNEL, since=since, contains="Song #2: Second by DJ Two"
                )

            # ntrbot restarts; the plugins reconnect on their own and relay the next announce
            assert await ntrbot.stop(signal.SIGTERM) == 0
            ntrbot = await NtrbotProcess(workdir, env, port=port).start()
            assert await wait_until(lambda: _is(subscribers(http), 2), timeout=45) is True
            await wait_in_channel(watcher, NTRBOT, timeout=30)
            since = watcher.mark()
            body = await announce(http, show["id"], 2)
            assert body["subscribers"] == 2
            for nick in ALL_NICKS:
                msg = await watcher.wait_privmsg(nick, CHANNEL, since=since, contains="Second")
                assert msg.params[-1] == body["message"]
    finally:
        for bot in bots:
            await asyncio.to_thread(bot.stop)
        await watcher.close()
        if ntrbot.proc is not None and ntrbot.proc.poll() is None:
            await ntrbot.stop(signal.SIGTERM)
    for bot in bots:
        assert TOKEN not in bot.log(), f"{bot.kind} logged the admin token"
        assert RELAY_TOKEN not in bot.log(), f"{bot.kind} logged its relay token"


async def wait_in_channel(watcher: RawIrc, nick: str, timeout: float = 20.0) -> None:
    """Ask NAMES until ``nick`` is listed in CHANNEL."""

    async def listed() -> bool:
        since = watcher.mark()
        await watcher.send(f"NAMES {CHANNEL}")
        await watcher.wait_for(lambda m: m.command == "366", 5, since)
        return any(
            m.command == "353" and nick in {n.lstrip("@+") for n in m.params[-1].split()}
            for m in watcher.messages(since)
        )

    await wait_until(listed, timeout=timeout, interval=0.3)


async def _is(value: Any, expected: Any) -> bool:
    return bool((await value) == expected)
