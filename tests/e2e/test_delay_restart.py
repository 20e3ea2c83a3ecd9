"""The real process with an announce delay: a pending announce survives a restart (it airs
then if still fresh, else it is recorded expired), and a cancel sends nothing anywhere."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.constants import BEARER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import announce_line, live_env, wait_bot_ready
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc

pytestmark = pytest.mark.e2e


async def announce(base: str, position: int, **extra: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        show_id = (await http.get("/playlist")).json()["id"]
        r = await http.post("/admin/announce", headers=BEARER,
                            json={"show_id": show_id, "position": position, **extra})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data


async def delivery(base: str, ann: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        items = (await http.get(f"/shows/{ann['show_id']}/announcements",
                                headers=BEARER)).json()["announcements"]
    state: str = next(a["delivery"] for a in items if a["id"] == ann["id"])
    return state


def said(observer: RawIrc, text: str) -> int:
    return sum(m.command == "PRIVMSG" and m.params[-1] == text for m in observer.messages())


async def test_pending_announce_airs_after_a_restart_and_a_cancel_sends_nothing(
        live_fake: FakeSoundCloud, miniircd: Any, tmp_path: Path) -> None:
    env = live_env(live_fake, miniircd, NTR_ANNOUNCE_DELAY_SECONDS="3",
                   NTR_ANNOUNCE_FRESH_SECONDS="120")
    bot = await NtrbotProcess(tmp_path, env).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
    try:
        await observer.join("#sewerchat")
        await wait_bot_ready(bot.base_url)
        # cancelled before its air time: nothing in the channel, ever
        undone = await announce(bot.base_url, 2)
        assert undone["delivery"] == "queued" and undone["airs_at"]
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            r = await http.delete(f"/admin/announcements/{undone['id']}", headers=BEARER)
            assert r.status_code == 200 and r.json()["status"] == "cancelled"
        # pending when ntrbot stops: it goes out after the restart
        pending = await announce(bot.base_url, 1)
        assert pending["delivery"] == "queued"
        assert await bot.stop(signal.SIGTERM) == 0
        assert said(observer, announce_line(1)) == 0
        bot = await NtrbotProcess(tmp_path, env, port=bot.port).start()
        await observer.wait_for(lambda m: m.command == "PRIVMSG"
                                and m.params[-1] == announce_line(1), 30)
        assert await wait_until(lambda: _is(delivery(bot.base_url, pending), "delivered"),
                                timeout=15)
        assert await delivery(bot.base_url, undone) == "cancelled"
        await asyncio.sleep(1.0)
        assert said(observer, announce_line(2)) == 0 and said(observer, announce_line(1)) == 1
        assert "go out after the next start" in bot.log()
    finally:
        await observer.close()
        await bot.stop(signal.SIGTERM)


async def test_pending_announce_too_old_after_a_restart_is_expired(
        live_fake: FakeSoundCloud, miniircd: Any, tmp_path: Path) -> None:
    env = live_env(live_fake, miniircd, NTR_ANNOUNCE_FRESH_SECONDS="1")
    bot = await NtrbotProcess(tmp_path, env).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
    try:
        await observer.join("#sewerchat")
        await wait_bot_ready(bot.base_url)
        stale = await announce(bot.base_url, 3, delay=1)
        assert await bot.stop(signal.SIGTERM) == 0
        await asyncio.sleep(3.5)  # past air time + freshness while ntrbot is down
        bot = await NtrbotProcess(tmp_path, env, port=bot.port).start()
        assert await wait_until(lambda: _is(delivery(bot.base_url, stale), "expired"),
                                timeout=15)
        await wait_bot_ready(bot.base_url)
        await asyncio.sleep(1.0)
        assert said(observer, announce_line(3)) == 0
    finally:
        await observer.close()
        await bot.stop(signal.SIGTERM)


async def _is(value: Any, want: str) -> bool:
    return bool((await value) == want)


async def test_a_crash_before_confirmation_leaves_no_announce_sent_forever(
        live_fake: FakeSoundCloud, miniircd: Any, tmp_path: Path) -> None:
    import os

    from tests.support.net import free_port
    env = live_env(live_fake, miniircd, NTR_ANNOUNCE_FRESH_SECONDS="120",
                   NTR_WEBHOOK_URLS=f"http://127.0.0.1:{free_port()}/down",
                   NTR_WEBHOOK_SECRET="webhook-secret-0123456789")
    bot = await NtrbotProcess(tmp_path, env).start()
    await wait_bot_ready(bot.base_url)
    assert miniircd.proc is not None
    os.kill(miniircd.proc.pid, signal.SIGSTOP)  # the server freezes: nothing confirms
    try:
        cut = await announce(bot.base_url, 4)
        assert cut["delivery"] == "sent"  # written, not confirmed (and never said delivered)
        assert await bot.stop(signal.SIGKILL) != 0
    finally:
        os.kill(miniircd.proc.pid, signal.SIGCONT)
    bot = await NtrbotProcess(tmp_path, env, port=bot.port).start()
    try:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            items = (await http.get(f"/shows/{cut['show_id']}/announcements",
                                    headers=BEARER)).json()["announcements"]
        a = next(a for a in items if a["id"] == cut["id"])
        states = {d["output"]: (d["state"], d["detail"]) for d in a["deliveries"]}
        assert a["delivery"] == "failed" and a["delivered_at"] is None
        assert states["irc:#sewerchat"][0] == "failed"
        assert "ntrbot stopped" in states["irc:#sewerchat"][1]
        assert {s for o, (s, _) in states.items() if o.startswith("webhook:")} <= {
            "failed", "expired"}
        assert "cut off by a stop" in bot.log()
    finally:
        await bot.stop(signal.SIGTERM)
