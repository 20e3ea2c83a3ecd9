"""End to end: the real `ntrbot` process, a real IRC server and a raw observer in the channel."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.support.constants import ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.ircd import IrcServer
from tests.support.live import announce_line, live_env, privmsg, wait_bot_ready
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc

pytestmark = pytest.mark.e2e


async def test_login_announce_and_queue_while_irc_is_down(
        live_fake: FakeSoundCloud, miniircd: IrcServer, tmp_path: Path) -> None:
    bot = await NtrbotProcess(tmp_path, live_env(live_fake, miniircd,
                                                 NTR_ANNOUNCE_FRESH_SECONDS="120")).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
    try:
        await observer.join("#sewerchat")
        await wait_bot_ready(bot.base_url)
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            r = await http.post("/login", data={"username": WEB_USER,
                                                "password": WEB_PASSWORD})
            assert r.status_code == 303 and "ntr_session" in r.cookies
            show_id = (await http.get("/playlist")).json()["id"]

            # 1. logged in, announce: the exact SPEC line reaches the channel
            since = observer.mark()
            r = await http.post("/admin/announce", json={"show_id": show_id, "position": 1})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "announced" and body["delivery"] == "delivered"
            assert body["delivered_at"] and body["deliveries"][0]["output"] == "irc:#sewerchat"
            assert body["message"] == announce_line(1)
            msg = await observer.wait_for(privmsg(announce_line(1)), 10, since)
            assert msg.nick == "ntrbot"

            # 2. already announced: 409 with the time, unless forced
            r = await http.post("/admin/announce", json={"show_id": show_id, "position": 1})
            assert r.status_code == 409 and r.json()["announced_at"] == body["announced_at"]

            # 3. IRC server gone: the announce is reported queued ...
            await observer.close()
            miniircd.stop()

            async def irc_down() -> bool:
                return not (await http.get("/health")).json()["irc"]["connected"]
            await wait_until(irc_down, timeout=20)
            r = await http.post("/admin/announce",
                                json={"show_id": show_id, "position": 2},
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert r.status_code == 200, r.text
            queued = r.json()
            assert queued["delivery"] == "queued"

            # ... and arrives once the server is back
            miniircd.start()
            observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
            await observer.join("#sewerchat")
            await observer.wait_for(privmsg(announce_line(2)), 45)

            async def delivered() -> bool:  # the queued announce is now confirmed
                items = (await http.get(f"/shows/{show_id}/announcements")).json()
                return any(a["position"] == 2 and a["delivery"] == "delivered"
                           for a in items["announcements"])
            await wait_until(delivered, timeout=10)
    finally:
        await observer.close()
        code = await bot.stop(signal.SIGTERM)
    assert code == 0
    log = bot.log()
    for secret in (ADMIN_TOKEN, WEB_PASSWORD, SECRET_KEY):
        assert secret not in log
    assert "Traceback" not in log
