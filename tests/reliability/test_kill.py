"""ntrbot SIGKILLed right after announces are acknowledged: nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.constants import ADMIN_TOKEN, BEARER, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess
from tests.support.reliability import sample_likes, show_week_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
ROUNDS = 3
ACKED_BEFORE_KILL = 12


def env_for(fake: FakeSoundCloud) -> dict[str, str]:
    return {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
            "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base, **show_week_env(),
            "NTR_WEB_USER": WEB_USER, "NTR_WEB_PASSWORD": WEB_PASSWORD,
            "NTR_SECRET_KEY": SECRET_KEY, "NTR_COOKIE_SECURE": "false"}


async def start(workdir: Path, fake: FakeSoundCloud) -> NtrbotProcess:
    bot = await NtrbotProcess(workdir, env_for(fake)).start()

    async def polled() -> bool:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=5) as http:
            return len((await http.get("/playlist")).json()["tracks"]) == 5
    await wait_until(polled, timeout=30)
    return bot


async def login(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        resp = await http.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD})
        assert resp.status_code == 303, resp.text
        cookie = resp.cookies.get("ntr_session")
    assert cookie
    return cookie


async def announce_until_killed(bot: NtrbotProcess, show_id: int, cookie: str,
                                acked: list[dict[str, Any]]) -> None:
    """Four clients announce as fast as they can (bearer and cookie); SIGKILL after N acks."""
    killed = asyncio.Event()
    start_count = len(acked)

    async def client(n: int) -> None:
        headers = BEARER if n % 2 else {"Cookie": f"ntr_session={cookie}",
                                        "Origin": bot.base_url}
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            i = n
            while not killed.is_set():
                i += 4
                try:
                    resp = await http.post("/admin/announce", headers=headers, json={
                        "show_id": show_id, "position": i % 5 + 1, "force": True})
                except httpx.HTTPError:
                    return  # the process is gone: not acknowledged
                assert resp.status_code == 200, resp.text
                acked.append(resp.json())
                if len(acked) - start_count >= ACKED_BEFORE_KILL and not killed.is_set():
                    killed.set()
                    bot.kill()  # SIGKILL right after an acknowledgement

    await asyncio.gather(*(client(n) for n in range(4)))


async def test_acknowledged_announces_survive_sigkill(tmp_path: Path) -> None:
    async with FakeSoundCloud(likes=sample_likes(5)) as fake:
        bot = await start(tmp_path, fake)
        cookie = await login(bot.base_url)
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=5) as http:
            show_id = (await http.get("/playlist")).json()["id"]
        acked: list[dict[str, Any]] = []
        try:
            for _ in range(ROUNDS):
                before = len(acked)
                await announce_until_killed(bot, show_id, cookie, acked)
                assert bot.proc is not None and bot.proc.returncode == -9
                assert len(acked) - before >= ACKED_BEFORE_KILL
                # the database file is sound right after the kill
                with contextlib.closing(sqlite3.connect(tmp_path / "ntrbot.db")) as conn:
                    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                    stored = {row[0] for row in conn.execute("SELECT id FROM announcements")}
                assert {a["announcement_id"] for a in acked} <= stored
                bot = await start(tmp_path, fake)
                async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
                    history = (await http.get(f"/shows/{show_id}/announcements")).json()
                    by_id = {a["id"]: a for a in history["announcements"]}
                    for a in acked:
                        got = by_id.get(a["announcement_id"])
                        assert got is not None, f"acknowledged announce lost: {a}"
                        assert (got["position"], got["message"]) == (a["position"], a["message"])
                    # the session from before the kill is still valid
                    page = await http.get("/dashboard", headers={"Cookie": f"ntr_session={cookie}"})
                    assert page.status_code == 200, page.headers.get("location")
                    ok = await http.post("/admin/announce", json={
                        "show_id": show_id, "position": 1, "force": True},
                        headers={"Cookie": f"ntr_session={cookie}", "Origin": bot.base_url})
                    assert ok.status_code == 200, ok.text
                    acked.append(ok.json())
        finally:
            bot.kill()
        assert "Traceback" not in bot.log()
