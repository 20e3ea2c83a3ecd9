"""The public playlist page in Debian's Chromium (Playwright): it follows the show, no reload."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.keys import FEED
from ntrbot.settings import Settings
from ntrbot.store.models import Track
from ntrbot.tools.sample_data import sample_playlists
from tests.support.browser import SCREENSHOTS
from tests.support.constants import BEARER, SHOW_START

pytestmark = [pytest.mark.browser]

SCREENSHOT = SCREENSHOTS / "public-page.png"


class Clock:
    def __init__(self) -> None:
        self.now = SHOW_START + timedelta(minutes=48)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def site(make_settings: Callable[..., Settings],
               aiohttp_client: Any) -> TestClient[Any, Any]:
    """The app on loopback with the demo's invented shows (episodes 412 and 413)."""
    clock = Clock()
    app = create_app(make_settings(), now=clock, start_poller=False)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    tracks, playlists = sample_playlists(app[keys.CLOCK], clock())
    db = app[keys.DB]
    await db.save_playlists(tracks, playlists)
    for episode, (start, _) in enumerate(sorted(playlists), 412):
        show_id = await db.show_id_at(start)
        assert show_id is not None
        await db.set_episode(show_id, episode)
    client.clock = clock  # type: ignore[attr-defined]
    return client


async def announce(site: Any, show_id: int, position: int) -> dict[str, Any]:
    site.clock.now += timedelta(minutes=4, seconds=20)
    resp = await site.post("/admin/announce", headers=BEARER,
                           json={"show_id": show_id, "position": position})
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def test_public_page_follows_the_show_live(browser: Any, site: Any) -> None:
    from playwright.async_api import expect

    show = await (await site.get("/playlist")).json()
    sid, titles = show["id"], [t["title"] for t in show["tracks"]]
    for position in (1, 2):
        await announce(site, sid, position)

    ctx = await browser.new_context(viewport={"width": 430, "height": 932},
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    await page.goto(str(site.make_url("/")))
    await page.wait_for_selector("#socket-status[data-state=ok]")
    assert "Episode 413" in await page.inner_text("#show-title")
    assert await page.locator("#tracks li.track").count() == len(titles)
    await page.wait_for_selector("#track-2.playing")
    await page.evaluate("window.__stillTheSamePage = true")

    # an announce moves the highlight and the now-playing card, with no reload
    await announce(site, sid, 3)
    await page.wait_for_selector("#track-3.playing")
    assert await page.inner_text("#now-title") == titles[2]
    assert not await page.locator("#track-2").evaluate("li => li.classList.contains('playing')")
    assert "played +1:01" in await page.inner_text("#track-3 .meta")  # 48 + 3 × 4:20

    # a retraction gives the highlight back to the track before
    third = await announce(site, sid, 4)
    await page.wait_for_selector("#track-4.playing")
    resp = await site.delete(f"/admin/announcements/{third['announcement_id']}", headers=BEARER)
    assert resp.status == 200
    await page.wait_for_selector("#track-3.playing")
    assert "played" not in await page.inner_text("#track-4 .meta")

    # edits and new likes show up by themselves
    resp = await site.patch(f"/admin/shows/{sid}", headers=BEARER, json={"episode": 414})
    assert resp.status == 200
    await expect(page.locator("#show-title")).to_have_text("NtR Episode 414")
    resp = await site.patch(f"/admin/shows/{sid}/tracks/5", headers=BEARER, json={"to": 1})
    assert resp.status == 200
    await expect(page.locator("#track-1 .title")).to_have_text(titles[4])
    app = site.server.app
    await app[keys.DB].add_track(sid, Track(1420001234, "Fresh Off the Drain", "Velvet Culvert",
                                            "https://soundcloud.com/velvetculvert/fresh"),
                                 site.clock.now)
    app[keys.EVENTS].publish("playlist", {"show_id": sid})  # what a poll with a new like does
    last = f"#track-{len(titles) + 1}"
    await page.wait_for_selector(f"{last}.fresh")
    assert "Fresh Off the Drain" in await page.inner_text(last)

    # the socket comes back after the server drops it, and pushes still arrive
    feed = app[FEED]
    await asyncio.gather(*(li.ws.close() for li in list(feed.listeners)))
    await page.wait_for_selector("#socket-status[data-state=warn]", timeout=5000)
    await page.wait_for_selector("#socket-status[data-state=ok]", timeout=15000)
    await announce(site, sid, 6)
    await page.wait_for_selector("#track-6.playing")

    assert await page.evaluate("window.__stillTheSamePage === true")
    assert problems == []

    await page.wait_for_timeout(500)  # the catch-up refresh after the reconnect
    await page.evaluate("document.querySelectorAll('.fresh').forEach(e => e.classList.remove("
                        "'fresh'))")
    await page.wait_for_timeout(1800)  # let the flash and the new-like tint fade for the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    await ctx.close()
