"""A refused JOIN on a real ngircd: /health and the dashboard's status bar give the reason,
and once the ban is lifted the bot is back in the channel within its short retry schedule."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import open_dashboard
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import live_env
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.ngircd]


async def health(base_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as http:
        irc: dict[str, Any] = (await http.get(base_url + "/health")).json()["irc"]
        return irc


async def test_ban_is_shown_then_lifted(browser: Any, live_fake: FakeSoundCloud,
                                        ngircd_server: Any, tmp_path: Path) -> None:
    server, fake = ngircd_server, live_fake
    op = await RawIrc.connect(server.host, server.port, "hostop")
    bot = None
    try:
        await op.join("#sewerchat")  # the first joiner is op
        mark = op.mark()
        await op.send("MODE #sewerchat +b ntrbot!*@*")
        await op.wait_for(lambda m: m.command == "MODE" and "+b" in m.params, 10, mark)
        bot = await NtrbotProcess(tmp_path, live_env(fake, server)).start()
        irc = await wait_until(
            lambda: _refused(bot.base_url), 40, "the refusal on /health")
        [refusal] = irc["join_refusals"]
        assert refusal["channel"] == "#sewerchat" and refusal["numeric"] == "474"
        assert refusal["message"].startswith("#sewerchat: banned (474 Cannot join channel")
        assert irc["connected"] is True and irc["channels"] == []

        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 860})
        pill = page.locator("#irc-status", has_text="#sewerchat: banned (474 ")
        await pill.wait_for()
        assert await pill.get_attribute("data-state") == "bad"
        assert "trying again in" in (await pill.get_attribute("title") or "")

        await op.send("MODE #sewerchat -b ntrbot!*@*")
        await page.wait_for_selector("#irc-status[data-state=ok]", timeout=30_000)
        assert "#sewerchat" in await page.inner_text("#irc-status")
        irc = await health(bot.base_url)
        assert irc["join_refusals"] == [] and irc["channels"] == ["#sewerchat"]
        # rejoined on one of the first retries (2, 4, 8 s), not after a minute's wait
        assert irc["join_refusal_counts"]["474"] <= 4
        assert problems == []
        await ctx.close()
    finally:
        await op.close()
        if bot is not None:
            await bot.stop(signal.SIGTERM)


async def _refused(base_url: str) -> dict[str, Any] | None:
    try:
        irc = await health(base_url)
    except httpx.HTTPError:
        return None
    return irc if irc.get("join_refusals") else None
