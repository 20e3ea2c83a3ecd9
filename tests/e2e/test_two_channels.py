"""The real process on real ngircd with two announce channels: each an output of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.constants import BEARER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import announce_line, live_env, wait_bot_ready
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import Msg, RawIrc

pytestmark = pytest.mark.e2e


async def test_each_channel_gets_the_line_and_its_own_delivery(
        live_fake: FakeSoundCloud, ngircd_server: Any, tmp_path: Path) -> None:
    env = live_env(live_fake, ngircd_server, NTR_IRC_CHANNELS="#sewerchat",
                   NTR_ANNOUNCE_CHANNEL="#sewerchat,#second")
    bot = await NtrbotProcess(tmp_path, env).start()
    observer = await RawIrc.connect(ngircd_server.host, ngircd_server.port, "observer")
    try:
        await observer.join("#sewerchat")
        await observer.join("#second")
        await wait_bot_ready(bot.base_url, channel="#second")
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            health = (await http.get("/health")).json()["irc"]
            assert {"#sewerchat", "#second"} <= set(health["channels"])
            show_id = (await http.get("/playlist")).json()["id"]
            r = await http.post("/admin/announce", headers=BEARER,
                                json={"show_id": show_id, "position": 1})
            body = r.json()
            # the answer waits for the first channel; the second confirms on its own
            assert body["delivery"] == "delivered"
            assert [d["output"] for d in body["deliveries"]] == ["irc:#sewerchat",
                                                                  "irc:#second"]

            async def both() -> bool:
                items = (await http.get(f"/shows/{show_id}/announcements",
                                        headers=BEARER)).json()["announcements"]
                return [d["state"] for d in items[-1]["deliveries"]] == ["delivered"] * 2
            assert await wait_until(both, timeout=10)
        for channel in ("#sewerchat", "#second"):
            def announced(m: Msg, c: str = channel) -> bool:
                return m.command == "PRIVMSG" and m.params == (c, announce_line(1))
            await observer.wait_for(announced, 20)
    finally:
        await observer.close()
        await bot.stop()
