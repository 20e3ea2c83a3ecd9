"""Manual tracks in the dashboard's edit mode (Chromium): by hand, and when SoundCloud is down."""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.support.browser import open_dashboard
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import LIVE_TRACKS, live_env
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def test_add_manual_track_in_edit_mode(browser: Any, live_fake: FakeSoundCloud,
                                             tmp_path: Path) -> None:
    env = live_env(live_fake, SimpleNamespace(host="127.0.0.1", port=1))
    env = {k: v for k, v in env.items() if not k.startswith(("NTR_IRC_", "NTR_ANNOUNCE_"))}
    bot = await NtrbotProcess(tmp_path, env).start()
    http = httpx.AsyncClient(base_url=bot.base_url, timeout=10)
    try:
        async def polled() -> bool:
            return len((await http.get("/playlist")).json()["tracks"]) >= len(LIVE_TRACKS)
        await wait_until(polled, timeout=40)
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 900})
        await page.click("#edit-toggle")
        await page.wait_for_selector("#edit-panel:not([hidden])")

        # by hand: title, artist, any link, at #2
        await page.click("#manual-add summary")
        await page.fill("#manual-title", "Guest Jam (live)")
        await page.fill("#manual-artist", "The Guest")
        await page.fill("#manual-url", "https://guest.bandcamp.com/track/jam")
        await page.fill("#manual-position", "2")
        await page.click("#manual-submit")
        await page.locator("#track-2", has_text="Guest Jam (live)").wait_for()
        await page.locator("#toast-text", has_text="Added #2").wait_for()
        assert await page.get_attribute("#track-2 .title a", "href") == \
            "https://guest.bandcamp.com/track/jam"
        assert await page.input_value("#manual-title") == ""
        track = (await http.get("/playlist")).json()["tracks"][1]
        assert track["title"] == "Guest Jam (live)" and track["id"] < 0

        # a SoundCloud URL while SoundCloud is down: the toast offers to add it by hand
        live_fake.fail_next(100, status=503)
        url = f"{live_fake.web_base}/someone/unreachable-track"
        await page.fill("#add-url", url)
        await page.click("#add-submit")
        offer = page.locator("#toast-manual", has_text="Add by hand")
        await offer.wait_for(timeout=20_000)
        assert "SoundCloud" in await page.inner_text("#toast-text")
        await offer.click()
        assert await page.input_value("#manual-url") == url
        assert await page.locator("#manual-add").evaluate("d => d.open")
        await page.fill("#manual-title", "Unreachable Track")
        await page.fill("#manual-artist", "Someone")
        await page.click("#manual-submit")
        last = len(LIVE_TRACKS) + 2
        await page.locator(f"#track-{last}", has_text="Unreachable Track").wait_for()
        titles = [t["title"] for t in (await http.get("/playlist")).json()["tracks"]]
        assert titles[1] == "Guest Jam (live)" and titles[-1] == "Unreachable Track"

        # on a phone the open form does not scroll sideways
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.click("#manual-add summary")
        await page.wait_for_selector("#manual-form #manual-submit")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the manual form scrolls sideways on a phone ({width}px)"
        # Chromium logs the 424 this test provoked on purpose; nothing else
        assert [p for p in problems if "status of 424" not in p] == []
        await ctx.close()
    finally:
        live_fake.faults.clear()
        await http.aclose()
        code = await bot.stop(signal.SIGTERM)
    assert code == 0
