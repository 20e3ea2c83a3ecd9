"""The public page's artwork in Chromium: the 500×500 image loads under the page's CSP (served
by a Playwright route, no network), a placeholder when there is none, and the box never moves."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.settings import Settings
from ntrbot.tools.sample_data import sample_playlists
from tests.support.constants import BEARER, SHOW_START

pytestmark = [pytest.mark.browser]

ART = {1: "https://i1.sndcdn.com/artworks-000111-aaa-large.jpg",
       2: "https://i4.sndcdn.com/artworks-000222-bbb-t300x300.png"}
# 1×1 PNG: what the route hands Chromium for every artwork request.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAH"
                       "ggJ/PchI7wAAAABJRU5ErkJggg==")


@pytest.fixture
async def site(make_settings: Callable[..., Settings],
               aiohttp_client: Any) -> TestClient[Any, Any]:
    now = SHOW_START + timedelta(minutes=20)
    app = create_app(make_settings(), now=lambda: now, start_poller=False)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    tracks, playlists = sample_playlists(app[keys.CLOCK], now)
    order = sorted(playlists)[-1]  # the current week
    current = [tid for tid, _, _ in playlists[order]]
    by_id = {t.id: t for t in tracks}
    for position, url in ART.items():  # tracks 1 and 2 have artwork, the others none
        by_id[current[position - 1]] = dataclasses.replace(by_id[current[position - 1]],
                                                           artwork_url=url)
    await app[keys.DB].save_playlists(list(by_id.values()), playlists)
    client.show_id = (await (await client.get("/playlist")).json())["id"]  # type: ignore[attr-defined]
    return client


async def announce(site: Any, position: int) -> None:
    r = await site.post("/admin/announce", headers=BEARER,
                        json={"show_id": site.show_id, "position": position, "force": True})
    assert r.status == 200, await r.text()


async def box(page: Any, selector: str) -> tuple[float, float]:
    r = await page.locator(selector).bounding_box()
    assert r is not None
    return (round(r["width"], 1), round(r["height"], 1))


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900},
                                      {"width": 390, "height": 844}], ids=["desktop", "phone"])
async def test_artwork_placeholder_and_csp(browser: Any, site: Any,
                                           viewport: dict[str, int]) -> None:
    await announce(site, 1)
    ctx = await browser.new_context(viewport=viewport)
    requested: list[str] = []
    release = asyncio.Event()

    async def nowhere(route: Any) -> None:  # nothing leaves loopback
        requested.append(route.request.url)
        await route.abort()

    async def artwork(route: Any) -> None:
        requested.append(route.request.url)
        await release.wait()  # held back: the box must already have its size
        await route.fulfill(status=200, content_type="image/png", body=PNG)

    await ctx.route(re.compile(r"^(?!http://127\.0\.0\.1[:/])"), nowhere)
    await ctx.route(re.compile(r"^https://i[1-4]\.sndcdn\.com/"), artwork)
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(site.make_url("/")))
    await page.wait_for_selector("#socket-status[data-state=ok]")

    img = page.locator("#now-art-img")
    big = "https://i1.sndcdn.com/artworks-000111-aaa-t500x500.jpg"
    assert await img.get_attribute("src") == big
    assert await img.get_attribute("loading") == "lazy"
    assert await img.get_attribute("alt") == ""
    assert await page.get_attribute("#now-art", "data-art") == "image"
    pending = await box(page, "#now-art")
    card_pending = await box(page, "#now-playing")
    assert pending[0] > 40 and pending[0] == pending[1]  # a square, before the image is there
    release.set()
    await page.wait_for_function("() => document.getElementById('now-art-img').naturalWidth > 0")
    assert big in requested  # the CSP let Chromium ask for it
    assert await box(page, "#now-art") == pending
    assert await box(page, "#now-playing") == card_pending

    # a track without artwork: the neutral placeholder, in the same box
    await announce(site, 3)
    await page.wait_for_selector("#now-art[data-art=placeholder]")
    assert await img.get_attribute("src") is None and await img.is_hidden()
    assert await box(page, "#now-art") == pending
    assert await page.locator("#now-art").evaluate(
        "e => getComputedStyle(e, '::before').content") == '"♪"'

    # live back to one with artwork: its 500×500 variant
    await announce(site, 2)
    art2 = "https://i4.sndcdn.com/artworks-000222-bbb-t500x500.png"
    await page.wait_for_function(
        "(src) => document.getElementById('now-art-img').getAttribute('src') === src", arg=art2)
    await page.wait_for_function("() => document.getElementById('now-art-img').naturalWidth > 0")
    assert await page.get_attribute("#now-art", "data-art") == "image"
    assert await box(page, "#now-art") == pending
    assert problems == []

    # the CSP allows SoundCloud's artwork hosts only: any other image is refused
    blocked = await page.evaluate("""() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation',
            (e) => resolve(e.violatedDirective + ' ' + e.blockedURI), {once: true});
        const i = new Image();
        i.src = 'https://images.example/cover-t500x500.jpg';
        document.body.append(i);
    })""")
    assert blocked.startswith("img-src") and "images.example" in blocked
    assert not any("images.example" in u for u in requested)
    assert all(u.startswith("https://i1.sndcdn.com/") or u.startswith("https://i4.sndcdn.com/")
               for u in requested), requested
    await ctx.close()
