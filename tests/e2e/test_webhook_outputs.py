"""The real process with Discord and signed webhooks beside IRC: no output delays another."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.constants import BEARER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import announce_line, live_env, wait_bot_ready
from tests.support.net import free_port, wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc
from tests.support.webhook_standin import DISCORD_PATH, HOOK_PATH, SECRET, StandIn

pytestmark = pytest.mark.e2e


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[StandIn, TestServer]]:
    standin = StandIn()
    app = web.Application()
    app.router.add_post(DISCORD_PATH, standin.discord)
    app.router.add_post(HOOK_PATH, standin.hook)
    standin.server = TestServer(app, host="127.0.0.1")
    await standin.server.start_server()

    async def slow(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(3)
        return web.Response(status=204)
    slow_app = web.Application()
    slow_app.router.add_post("/slow", slow)
    slow_server = TestServer(slow_app, host="127.0.0.1")
    await slow_server.start_server()
    yield standin, slow_server
    await slow_server.close()
    standin.release.set()
    await standin.server.close()


async def outputs(http: httpx.AsyncClient, show_id: int, ann_id: int) -> dict[str, Any]:
    items = (await http.get(f"/shows/{show_id}/announcements",
                            headers=BEARER)).json()["announcements"]
    a = next(a for a in items if a["id"] == ann_id)
    return {d["output"]: d for d in a["deliveries"]}


async def test_irc_does_not_wait_for_webhooks_and_each_ends_on_its_own(
        live_fake: FakeSoundCloud, miniircd: Any, receivers: Any, tmp_path: Path) -> None:
    standin, slow = receivers
    down = f"http://127.0.0.1:{free_port()}/down"
    env = live_env(live_fake, miniircd, NTR_ANNOUNCE_FRESH_SECONDS="5",
                   NTR_DISCORD_WEBHOOK_URL=standin.url(DISCORD_PATH),
                   NTR_WEBHOOK_URLS=",".join([standin.url(HOOK_PATH),
                                              str(slow.make_url("/slow")), down]),
                   NTR_WEBHOOK_SECRET=SECRET)
    bot = await NtrbotProcess(tmp_path, env).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
    try:
        await observer.join("#sewerchat")
        await wait_bot_ready(bot.base_url)
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            show_id = (await http.get("/playlist")).json()["id"]
            r = await http.post("/admin/announce", headers=BEARER,
                                json={"show_id": show_id, "position": 1})
            body = r.json()
            assert body["delivery"] == "delivered"  # IRC confirmed; webhooks not awaited
            names = [d["output"] for d in body["deliveries"]]
            assert names[0] == "irc:#sewerchat" and names[1] == "discord"
            assert sum(n.startswith("webhook:127.0.0.1:") for n in names) == 3
            slow_name = f"webhook:127.0.0.1:{slow.port}"
            assert body["deliveries"][names.index(slow_name)]["state"] in ("queued", "sent")
            await observer.wait_for(lambda m: m.command == "PRIVMSG"
                                    and m.params[-1] == announce_line(1), 10)

            async def settled() -> dict[str, Any] | None:
                outs = await outputs(http, show_id, body["id"])
                done = all(d["state"] in ("delivered", "failed", "expired")
                           for d in outs.values())
                return outs if done else None
            outs = await wait_until(settled, timeout=30)
            assert outs["discord"]["state"] == "delivered"
            assert "1311111111111111111" in outs["discord"]["detail"]  # the message id
            hook = next(o for n, o in outs.items() if n.startswith("webhook:")
                        and n != slow_name and o["state"] == "delivered")
            assert hook
            assert outs[slow_name]["state"] == "delivered"
            assert [o["state"] for n, o in outs.items() if n.endswith(down.split(":")[2]
                                                                     .split("/")[0])] in (
                ["failed"], ["expired"])
            sent = [json.loads(r["raw"]) for r in standin.requests if r["kind"] == "hook"]
            assert sent and sent[0]["id"] == body["id"] and sent[0]["type"] == "announce"
            discord = [json.loads(r["raw"]) for r in standin.requests if r["kind"] == "discord"]
            assert discord[0]["content"] == announce_line(1)
            assert discord[0]["allowed_mentions"] == {"parse": []}

            # with a delay, a cancel before the air time reaches no webhook either
            before = len(standin.requests)
            r = await http.post("/admin/announce", headers=BEARER,
                                json={"show_id": show_id, "position": 2, "delay": 1})
            pending = r.json()
            assert {d["state"] for d in pending["deliveries"]} == {"queued"}
            r = await http.delete(f"/admin/announcements/{pending['id']}", headers=BEARER)
            assert r.json()["status"] == "cancelled"
            await asyncio.sleep(1.5)
            assert len(standin.requests) == before
        log = bot.log()
        assert "s3cr3t" not in log and SECRET not in log  # URLs and the secret never logged
    finally:
        await observer.close()
        await bot.stop()
