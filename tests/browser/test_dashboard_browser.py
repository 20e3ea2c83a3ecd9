"""The dashboard in Debian's Chromium (Playwright): log in, press `n`, see it in the channel."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc
from tests.test_announce_support import (
    LIVE_TRACKS,
    SECRET_KEY,
    WEB_PASSWORD,
    WEB_USER,
    announce_line,
    live_env,
    live_likes,
    wait_bot_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    try:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()
    finally:
        await pw.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud() as sc:
        sc.set_likes(live_likes())
        yield sc


def privmsg(text: str):  # type: ignore[no-untyped-def]
    return lambda m: (m.command == "PRIVMSG" and m.params[:1] == ("#sewerchat",)
                      and m.params[-1] == text)


async def open_dashboard(browser: Any, base_url: str, **context: Any) -> tuple[Any, Any, list]:
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    problems: list[str] = []
    # Chromium logs every non-2xx fetch; the 409 of the re-announce check is expected.
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "status of 409" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(base_url + "/dashboard")
    assert page.url.endswith("/login")
    await page.fill("#username", WEB_USER)
    await page.fill("#password", WEB_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/dashboard")
    await page.wait_for_selector("#track-1")
    await page.wait_for_selector("#socket-status[data-state=ok]")
    return ctx, page, problems


async def test_dashboard_in_chromium(browser: Any, fake: FakeSoundCloud, miniircd: Any,
                                     tmp_path: Path) -> None:
    bot = await NtrbotProcess(tmp_path, live_env(fake, miniircd)).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
    try:
        await observer.join("#sewerchat")
        await wait_bot_ready(bot.base_url)
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 860})

        # the current show is there, the previous one collapsed
        rows = page.locator("#current-tracks tbody tr")
        assert await rows.count() == len(LIVE_TRACKS)
        assert LIVE_TRACKS[0][1] in await page.inner_text("#track-1")
        assert not await page.locator("#previous").evaluate("d => d.open")
        assert "Previous" in await page.inner_text("#previous-title")
        assert "Last Week's Closer" in await page.locator("#previous-tracks").text_content()
        await page.wait_for_selector("#irc-status[data-state=ok]")

        # `n` announces track 1; the mark appears and the line reaches the channel
        since = observer.mark()
        await page.keyboard.press("n")
        await page.wait_for_selector("#track-1.announced")
        await page.wait_for_selector("#toast[data-kind=ok]")
        assert "Sent #1" in await page.inner_text("#toast")
        await observer.wait_for(privmsg(announce_line(1)), 10, since)

        # digits + Enter announce that position
        since = observer.mark()
        await page.keyboard.type("3")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#track-3.announced")
        await observer.wait_for(privmsg(announce_line(3)), 10, since)
        await page.wait_for_selector("#track-4.next")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-desktop.png"))

        # `n` goes on after the last one announced
        since = observer.mark()
        await page.keyboard.press("n")
        await page.wait_for_selector("#track-4.announced")
        await observer.wait_for(privmsg(announce_line(4)), 10, since)

        # re-announce needs the explicit confirm
        await page.click("#track-1 button.announce")
        await page.wait_for_selector("#confirm[open]")
        assert "already announced" in await page.inner_text("#confirm-text")
        await page.click("#confirm-cancel")
        since = observer.mark()
        await page.click("#track-1 button.announce")
        await page.wait_for_selector("#confirm[open]")
        await page.click("#confirm-ok")
        await observer.wait_for(privmsg(announce_line(1)), 10, since)
        await page.wait_for_selector("#toast[data-kind=ok]")

        # marks come from the database: they survive a reload
        await page.reload()
        await page.wait_for_selector("#track-4.announced")
        assert await page.locator("tr.announced").count() == 3
        await page.wait_for_selector("#socket-status[data-state=ok]")

        # an announce from elsewhere (bearer API) shows up live in this tab
        import httpx
        async with httpx.AsyncClient(base_url=bot.base_url) as http:
            show_id = (await http.get("/playlist")).json()["id"]
            r = await http.post("/admin/announce", json={"show_id": show_id, "position": 2},
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert r.status_code == 200
        await page.wait_for_selector("#track-2.announced")
        await page.wait_for_selector("#toast")
        assert "#2 announced by token" in await page.inner_text("#toast")

        # nothing secret in what the browser got
        html = await page.content()
        for secret in (ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD):
            assert secret not in html
        assert problems == []
        await ctx.close()

        # phone width: big targets, same data
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 390, "height": 844},
            device_scale_factor=2, is_mobile=True, has_touch=True)
        await page.wait_for_selector("#track-1.announced")
        box = await page.locator("#track-5 button.announce").bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-phone.png"))
        assert problems == []

        # IRC goes down: the status bar says so, an announce is reported queued ...
        await observer.close()
        miniircd.stop()
        await page.wait_for_selector("#irc-status[data-state=bad]", timeout=20_000)
        await page.keyboard.press("n")
        await page.wait_for_selector("#toast[data-kind=warn]")
        assert "queued" in await page.inner_text("#toast")
        await page.wait_for_selector("#track-5 .mark[data-delivery=queued]")
        # ... and when IRC is back the line goes out and the page learns it was sent
        miniircd.start()
        observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
        await observer.join("#sewerchat")
        await observer.wait_for(privmsg(announce_line(5)), 45)
        await page.wait_for_selector("#track-5 .mark[data-delivery=sent]", timeout=10_000)
        await page.wait_for_selector("#irc-status[data-state=ok]", timeout=20_000)

        # logging out ends the session
        await page.click("form.inline button")
        await page.wait_for_url("**/login")
        await page.goto(bot.base_url + "/dashboard")
        assert page.url.endswith("/login")
        await ctx.close()
    finally:
        await observer.close()
        code = await bot.stop(signal.SIGTERM)
    assert code == 0
