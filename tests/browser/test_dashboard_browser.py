"""The dashboard in Debian's Chromium (Playwright): log in, press `n`, see it in the channel."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import SCREENSHOTS, open_dashboard
from tests.support.constants import ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import LIVE_TRACKS, announce_line, live_env, privmsg, wait_bot_ready
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc

pytestmark = [pytest.mark.browser, pytest.mark.e2e]



async def announcements(page: Any, position: int) -> dict[str, Any]:
    """The latest announce of `position` in the current show, as the server has it."""
    latest: dict[str, Any] = await page.evaluate("""async (pos) => {
        const show = await (await fetch('/playlist')).json();
        const r = await (await fetch('/shows/' + show.id + '/announcements')).json();
        return r.announcements.filter((a) => a.position === pos).pop();
    }""", position)
    return latest


async def local_time(page: Any, iso: str) -> str:
    """`iso` as the browser's local "HH:MM:SS"."""
    shown: str = await page.evaluate("""(iso) => new Date(iso).toLocaleTimeString([],
        {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false})""", iso)
    return shown


async def test_dashboard_in_chromium(browser: Any, live_fake: FakeSoundCloud, miniircd: Any,
                                     tmp_path: Path) -> None:
    bot = await NtrbotProcess(tmp_path, live_env(live_fake, miniircd)).start()
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

        # `n` announces track 1; the line reaches the channel and, once the server has
        # confirmed it, the toast, the mark and the history say "in #sewerchat <time>"
        since = observer.mark()
        await page.keyboard.press("n")
        await page.wait_for_selector("#track-1.announced")
        await page.locator("#toast[data-kind=ok]", has_text="in #sewerchat").wait_for()
        await observer.wait_for(privmsg(announce_line(1)), 10, since)
        said = await page.inner_text("#toast-text")
        ann = await announcements(page, 1)
        assert ann["delivery"] == "delivered" and ann["delivered_at"]
        words = "in #sewerchat " + await local_time(page, ann["delivered_at"])
        assert said == f"#1 {LIVE_TRACKS[0][1]}: {words}", said
        assert await page.get_attribute("#toast", "role") == "status"
        assert await page.get_attribute("#toast", "aria-live") == "polite"
        assert (await page.inner_text("#track-1 .when-col .outcome")).strip() == words
        assert await page.get_attribute("#track-1 .when-col .mark", "data-delivery") == \
            "delivered"

        # digits + Enter announce that position
        since = observer.mark()
        await page.keyboard.type("3")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#track-3.announced")
        await observer.wait_for(privmsg(announce_line(3)), 10, since)
        await page.wait_for_selector("#track-4.next")
        # the history: first time and offset per track, the setlist downloads
        await page.click("#history summary")
        assert await page.locator("#history-list li").count() == 2
        assert (await page.inner_text("#history-list li .h-state >> nth=0")).strip() == words
        assert await page.locator("#current-setlist a[data-fmt]").count() == 4
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-desktop.png"), full_page=True)

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
        await page.locator("#toast", has_text="announced by token: in #sewerchat").wait_for()
        assert (await page.inner_text("#toast-text")).startswith(
            f"#2 {LIVE_TRACKS[1][1]} announced by token: in #sewerchat ")

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
        await page.click("#history summary")
        await page.locator("#history-list li").first.wait_for()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the history scrolls sideways on a phone ({width}px)"
        await page.screenshot(path=str(tmp_path / "dashboard-phone-history.png"), full_page=True)
        # edit mode on a phone: big ↑ ↓ ✕ targets, still no sideways scrolling
        await page.click("#edit-toggle")
        await page.wait_for_selector("#edit-panel:not([hidden])")
        for button in ("move-up", "move-down", "remove"):
            box = await page.locator(f"#track-3 button.{button}").bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44, button
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"edit mode scrolls sideways on a phone ({width}px)"
        await page.screenshot(path=str(tmp_path / "dashboard-phone-edit.png"), full_page=True)
        await page.click("#edit-toggle")
        assert problems == []

        # The link goes dead mid-announce (the server freezes: no FIN, no RST). The toast
        # says "sending…", never "sent"; within 10 s ntrbot declares the link dead and the
        # status bar says so at once; after the rejoin the line goes out and is confirmed.
        since = observer.mark()
        os.kill(miniircd.proc.pid, signal.SIGSTOP)
        try:
            await page.keyboard.press("n")
            await page.locator("#toast-text", has_text="#5").wait_for()
            assert "sending…" in await page.inner_text("#toast-text")
            await page.locator("#irc-status", has_text="IRC link lost — reconnecting").wait_for(
                timeout=15_000)
            assert await page.get_attribute("#irc-status", "data-state") == "bad"
            await page.locator("#track-5 .when-inline .outcome",
                               has_text="sending… (waiting for IRC)").wait_for()
            assert "in #sewerchat" not in await page.inner_text("#track-5")
            await page.screenshot(path=str(SCREENSHOTS / "dashboard-link-lost.png"))
        finally:
            os.kill(miniircd.proc.pid, signal.SIGCONT)
        await observer.wait_for(privmsg(announce_line(5)), 45, since)
        await page.locator("#track-5 .when-inline .outcome", has_text="in #sewerchat").wait_for(
            timeout=20_000)
        await page.wait_for_selector("#irc-status[data-state=ok]", timeout=20_000)

        # IRC goes down: the status bar says so, an announce waits for IRC ...
        await observer.close()
        miniircd.stop()
        await page.wait_for_selector("#irc-status[data-state=bad]", timeout=20_000)
        assert "IRC down" in await page.inner_text("#irc-status")
        await page.keyboard.press("n")
        await page.locator("#toast[data-kind=warn]", has_text="#6").wait_for()
        assert "sending… (waiting for IRC)" in await page.inner_text("#toast-text")
        await page.wait_for_selector("#track-6 .mark[data-delivery=queued]")
        # ... and when IRC is back the line goes out and the page learns it is in the channel
        miniircd.start()
        observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
        await observer.join("#sewerchat")
        await observer.wait_for(privmsg(announce_line(6)), 45)
        await page.wait_for_selector("#track-6 .mark[data-delivery=delivered]", timeout=10_000)
        assert "in #sewerchat" in await page.inner_text("#track-6 .when-inline .outcome")
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


ADDED_TITLE = "Manhole Cover Blues"
ADDED_URL = "https://soundcloud.com/gutter-ghosts/manhole-cover-blues"
NEW_LIKE = "Fresh Off The Grate"


async def open_tab(ctx: Any, base_url: str) -> Any:
    """Another dashboard tab in the same (logged-in) browser context."""
    tab = await ctx.new_page()
    await tab.goto(base_url + "/dashboard")
    await tab.wait_for_selector("#track-1")
    await tab.wait_for_selector("#socket-status[data-state=ok]")
    return tab


async def row_titles(page: Any) -> list[str]:
    return [t.strip() for t in
            await page.locator("#current-tracks tbody tr td.track .title").all_inner_texts()]


async def test_dashboard_host_tools(browser: Any, live_fake: FakeSoundCloud, miniircd: Any,
                                    tmp_path: Path) -> None:
    """Undo, announcement history, setlist download, playlist edits and live new likes."""
    import csv
    import re
    from datetime import UTC, datetime, timedelta

    import httpx

    from tests.support.fake_soundcloud import make_like, make_track

    live_fake.extra_tracks.append(make_track(501, ADDED_TITLE, "Gutter Ghosts", "Gutter Ghosts"))
    bot = await NtrbotProcess(tmp_path, live_env(live_fake, miniircd)).start()
    http = httpx.AsyncClient(base_url=bot.base_url, timeout=10)
    try:
        await wait_bot_ready(bot.base_url)
        show_id = (await http.get("/playlist")).json()["id"]
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 900},
            accept_downloads=True)
        other = await open_tab(ctx, bot.base_url)
        listeners = await browser.new_context()  # the public page, no login
        public = await listeners.new_page()
        await public.goto(bot.base_url + "/")
        await public.wait_for_selector("#socket-status[data-state=ok]")

        # announce with `n`; the toast offers Undo, which takes it off the history everywhere
        await page.keyboard.press("n")
        await page.wait_for_selector("#track-1.announced")
        await other.wait_for_selector("#track-1.announced")
        undo = page.locator("#toast-action")
        await undo.wait_for(state="visible")
        assert (await undo.inner_text()).strip() == "Undo"
        await undo.click()
        await page.locator("#toast-text", has_text="cannot be unsent").wait_for()
        await page.wait_for_selector("#track-1.next:not(.announced)")
        await other.wait_for_selector("#track-1.next:not(.announced)")
        assert (await http.get(f"/shows/{show_id}/announcements")).json()["announcements"] == []
        await page.click("#history summary")
        retracted = page.locator("#history-list li.retracted")
        await retracted.wait_for()
        assert "retracted" in await retracted.inner_text()
        assert await page.locator("#toast-action").is_hidden()

        # history: first time, offset from the show start, repeats; it survives a reload
        await page.keyboard.press("n")
        await page.wait_for_selector("#track-1.announced")
        await page.keyboard.type("3")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#track-3.announced")
        await page.click("#track-1 button.announce")
        await page.wait_for_selector("#confirm[open]")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#track-1 .when-col .repeats")
        await page.reload()
        await page.wait_for_selector("#track-1 .when-col .repeats")
        assert (await page.inner_text("#track-1 .when-col .repeats")).strip() == "×2"
        assert re.fullmatch(r"\+\d+:\d\d:\d\d",
                            (await page.inner_text("#track-1 .when-col .offset")).strip())
        assert "3 announces of 2 tracks" in await page.inner_text("#history-count")
        await page.click("#history summary")
        assert await page.locator("#history-list li").count() == 3
        assert "repeat ×2" in await page.locator("#history-list li").nth(2).inner_text()
        await page.wait_for_selector("#track-2.next")  # after the last announced (#1)

        # the setlist downloads from the dashboard
        assert await page.get_attribute("#current-setlist a[data-fmt=md]", "href") == \
            f"/shows/{show_id}/setlist.md"
        async with page.expect_download() as info:
            await page.click("#current-setlist a[data-fmt=csv]")
        download = await info.value
        saved = tmp_path / "setlist.csv"
        await download.save_as(str(saved))
        rows = list(csv.reader(saved.read_text().splitlines()))
        assert rows[0][:2] == ["order", "position"]
        assert [r[4] for r in rows[1:3]] == [LIVE_TRACKS[0][1], LIVE_TRACKS[2][1]]
        assert rows[1][8] == "2"

        # edit mode; typing `n` in a field does not announce
        announced = await page.locator("tr.announced").count()
        await page.click("#edit-toggle")
        await page.wait_for_selector("#edit-panel:not([hidden])")
        await page.type("#add-url", "nnn")
        await page.wait_for_timeout(300)
        assert await page.locator("tr.announced").count() == announced

        # API errors are shown in the toast
        await page.fill("#add-url", "https://example.com/not/soundcloud")
        await page.click("#add-submit")
        await page.locator("#toast[data-kind=error]", has_text="SoundCloud track URL").wait_for()
        await page.fill("#add-url", "https://soundcloud.com/nobody/no-such-track")
        await page.click("#add-submit")
        await page.locator("#toast[data-kind=error]", has_text="404").wait_for()

        # add by URL at #2: highlighted here and pushed to the other tab
        await page.fill("#add-url", ADDED_URL)
        await page.fill("#add-position", "2")
        await page.click("#add-submit")
        await page.locator("#track-2.fresh", has_text=ADDED_TITLE).wait_for()
        await page.locator("#toast-text", has_text="Added #2").wait_for()
        await other.locator("#track-2", has_text=ADDED_TITLE).wait_for()
        await public.locator("#tracks", has_text=ADDED_TITLE).wait_for()
        assert await page.input_value("#add-url") == ""
        await page.wait_for_selector("#track-4.announced")  # the mark followed its track
        await page.wait_for_selector("#track-2.next")

        # move down one place, then with "Move # to #"
        await page.click("#track-2 button.move-down")
        await page.locator("#track-3", has_text=ADDED_TITLE).wait_for()
        await page.fill("#move-from", "3")
        await page.fill("#move-to", "1")
        await page.click("#move-submit")
        await page.locator("#track-1", has_text=ADDED_TITLE).wait_for()
        await other.locator("#track-1", has_text=ADDED_TITLE).wait_for()
        await page.wait_for_selector("#track-2.announced")
        await page.locator("#track-3.next", has_text=LIVE_TRACKS[1][1]).wait_for()

        # remove (asks first)
        await page.click("#track-1 button.remove")
        await page.wait_for_selector("#confirm[open]")
        assert ADDED_TITLE in await page.inner_text("#confirm-text")
        await page.click("#confirm-ok")
        await page.locator("#current-tracks tbody tr", has_text=ADDED_TITLE).wait_for(
            state="detached")
        await other.locator("#current-tracks tbody tr", has_text=ADDED_TITLE).wait_for(
            state="detached")
        titles = [t["title"] for t in (await http.get("/playlist")).json()["tracks"]]
        assert titles == [t for _, t, _ in LIVE_TRACKS]
        await page.wait_for_selector("#track-2.next")

        # episode number, shown in the headings of both tabs
        await page.fill("#episode-input", "414")
        await page.click("#episode-save")
        await page.locator("#current-title", has_text="Episode 414").wait_for()
        await other.locator("#current-title", has_text="Episode 414").wait_for()
        await public.locator("#show-title", has_text="Episode 414").wait_for()
        await public.locator("#tracks li", has_text=ADDED_TITLE).wait_for(state="detached")
        await listeners.close()
        assert (await http.get(f"/shows/{show_id}")).json()["episode"] == 414
        await page.click("#edit-toggle")
        await page.wait_for_selector("#edit-panel[hidden]", state="attached")

        # a new like arrives (Refresh now): it appears live, highlighted for a few seconds
        # (FRESH_MS, 8 s: the other tab's clock is Playwright's, moved on past them)
        await other.clock.install()
        live_fake.add_like(make_like(601, datetime.now(UTC) - timedelta(minutes=1),
                                title=NEW_LIKE, artist="Sewer Cats"))
        await page.click("#refresh")
        fresh = other.locator("#current-tracks tr.fresh", has_text=NEW_LIKE)
        await fresh.wait_for()
        assert (await row_titles(other))[-1] == NEW_LIKE
        await other.clock.run_for(5_000)
        assert await fresh.count() == 1  # still highlighted
        await other.clock.run_for(3_100)
        await fresh.wait_for(state="detached")
        await other.locator("#current-tracks tr", has_text=NEW_LIKE).wait_for()

        # Chromium logs the 4xx answers this test provoked on purpose; nothing else
        assert [p for p in problems if "status of 4" not in p] == []
        await ctx.close()
    finally:
        await http.aclose()
        code = await bot.stop(signal.SIGTERM)
    assert code == 0


class Relay:
    """A relay bot on /ws/announce: named, acking each announce when `acks`."""

    def __init__(self, base_url: str, name: str, acks: bool) -> None:
        self.url = base_url.replace("http://", "ws://") + "/ws/announce"
        self.name, self.acks = name, acks
        self.got: list[dict[str, Any]] = []

    async def __aenter__(self) -> Relay:
        import asyncio

        import aiohttp

        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(self.url)
        await self.ws.send_json({"type": "subscribe", "token": ADMIN_TOKEN, "name": self.name,
                                 "acks": self.acks})
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        import json

        async for msg in self.ws:
            data = json.loads(msg.data)
            if data.get("type") == "announce":
                self.got.append(data)
                if self.acks:
                    await self.ws.send_json({"type": "ack", "id": data["id"], "ok": True})

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await self.ws.close()
        await self.session.close()


@pytest.mark.ngircd
async def test_refused_announce_can_be_sent_again(browser: Any, live_fake: FakeSoundCloud,
                                                  ngircd_server: Any, tmp_path: Path) -> None:
    """A moderated channel on a real ngircd refuses the line (404): the host sees the
    server's reason and Send again, which after -m ends in the channel."""
    server = ngircd_server
    op = await RawIrc.connect(server.host, server.port, "hostop")
    bot = None
    try:
        await op.join("#sewerchat")  # the first joiner is op
        await op.send("MODE #sewerchat +m")
        await op.wait_for(lambda m: m.command == "MODE" and "+m" in m.params, 10)
        bot = await NtrbotProcess(tmp_path, live_env(live_fake, server)).start()
        await wait_bot_ready(bot.base_url)
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 900})
        await page.wait_for_selector("#irc-status[data-state=ok]")

        since = op.mark()
        await page.click("#track-1 button.announce")
        toast = page.locator("#toast[data-kind=error]", has_text="failed: 404")
        await toast.wait_for()
        said = await page.inner_text("#toast-text")
        assert said.startswith(f"#1 {LIVE_TRACKS[0][1]}: failed: 404 "), said
        assert "annot send to channel" in said  # the server's own reason
        assert await page.get_attribute("#toast", "role") == "alert"
        retry = page.locator("#toast-retry")
        assert (await retry.inner_text()).strip() == "Send again"
        assert await page.locator("#toast-action").is_visible()  # Undo is still there
        mark = page.locator("#track-1 .when-col .mark")
        assert await mark.get_attribute("data-kind") == "error"
        assert (await mark.locator(".outcome").inner_text()).startswith("failed: 404 ")
        await page.click("#history summary")
        item = page.locator("#history-list li").first
        assert (await item.locator(".h-state").inner_text()).startswith("failed: 404 ")
        assert await item.locator("button.retry").is_visible()
        assert not [m for m in op.messages(since) if m.command == "PRIVMSG"]
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-failed.png"))

        # -m: Send again (from the keyboard) re-announces, and this one is in the channel
        await op.send("MODE #sewerchat -m")
        await op.wait_for(lambda m: m.command == "MODE" and "-m" in m.params, 10, since)
        await retry.focus()
        await page.keyboard.press("Enter")
        await op.wait_for(privmsg(announce_line(1)), 10, since)
        await page.locator("#toast[data-kind=ok]", has_text="in #sewerchat").wait_for()
        assert (await page.inner_text("#toast-text")).startswith(
            f"#1 {LIVE_TRACKS[0][1]}: in #sewerchat ")
        await mark.locator(".outcome", has_text="in #sewerchat").wait_for()
        assert (await page.locator("#track-1 .when-col .repeats").inner_text()).strip() == "×2"
        items = page.locator("#history-list li")
        assert await items.count() == 2
        assert "in #sewerchat" in await items.nth(1).locator(".h-state").inner_text()
        assert (await items.nth(0).locator(".h-state").inner_text()).startswith("failed: 404")

        # the history's Send again works too (+m again: it fails again, as the server says)
        await op.send("MODE #sewerchat +m")
        await op.wait_for(lambda m: m.command == "MODE" and "+m" in m.params, 10, since)
        await items.nth(0).locator("button.retry").click()
        await page.locator("#toast[data-kind=error]", has_text="failed: 404").wait_for()
        assert await items.count() == 3
        assert [p for p in problems if "status of 4" not in p] == []
        await ctx.close()
    finally:
        await op.close()
        if bot is not None:
            await bot.stop(signal.SIGTERM)


async def test_irc_off_relays_are_the_outcome(browser: Any, live_fake: FakeSoundCloud,
                                              tmp_path: Path) -> None:
    """Relay-only (IRC off): the toast and marks say what the relays did."""
    import httpx

    from tests.support.net import wait_until

    env = live_env(live_fake, type("NoIrc", (), {"host": "", "port": 6667})())
    env["NTR_IRC_SERVER"] = ""
    bot = await NtrbotProcess(tmp_path, env).start()
    try:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=5) as http:
            async def ready() -> bool:
                return len((await http.get("/playlist")).json()["tracks"]) >= len(LIVE_TRACKS)
            await wait_until(ready, timeout=40)
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 900})
        await page.locator("#irc-status", has_text="IRC off").wait_for()

        # no relay at all: only recorded
        await page.keyboard.press("n")
        await page.locator("#toast-text", has_text="recorded (IRC is off)").wait_for()
        assert "recorded (IRC is off)" in await page.inner_text("#track-1 .when-col .outcome")

        async with Relay(bot.base_url, "sopel@testnet", acks=True) as acking, \
                Relay(bot.base_url, "oldbot", acks=False):
            await page.locator("#relay-status", has_text="2 relays").wait_for()
            title = await page.get_attribute("#relay-status", "title")
            assert "sopel@testnet" in title and "oldbot (no acks)" in title
            await page.keyboard.press("n")
            await page.locator("#toast-text", has_text="1/2 relays, 1 unconfirmed").wait_for()
            assert acking.got and acking.got[-1]["position"] == 2
            assert (await page.inner_text("#track-2 .when-col .outcome")).strip() == \
                "1/2 relays, 1 unconfirmed"
            assert "sending" not in await page.inner_text("#toast-text")
        await page.locator("#relay-status", has_text="0 relays").wait_for()

        async with Relay(bot.base_url, "limnoria@testnet", acks=True):
            await page.locator("#relay-status", has_text="1 relay").wait_for()
            assert "limnoria@testnet" in await page.get_attribute("#relay-status", "title")
            await page.keyboard.press("n")
            await page.locator("#toast[data-kind=ok] #toast-text",
                               has_text="1/1 relays").wait_for()
            assert (await page.inner_text("#toast-text")) == f"#3 {LIVE_TRACKS[2][1]}: 1/1 relays"
        assert problems == []
        await ctx.close()
    finally:
        await bot.stop(signal.SIGTERM)


async def test_each_channel_is_shown(browser: Any, live_fake: FakeSoundCloud, miniircd: Any,
                                     tmp_path: Path) -> None:
    """Announcing to two channels: the toast and the mark name each one, with its time."""
    import re

    channels = "#sewerchat,#backroom"
    bot = await NtrbotProcess(tmp_path, live_env(live_fake, miniircd, NTR_ANNOUNCE_CHANNEL=channels,
                                                 NTR_IRC_CHANNELS=channels)).start()
    try:
        await wait_bot_ready(bot.base_url, channel="#backroom")
        await wait_bot_ready(bot.base_url)
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 1280, "height": 900})
        await page.keyboard.press("n")
        await page.locator("#toast[data-kind=ok]", has_text="in #backroom").wait_for()
        both = r"in #sewerchat \d\d:\d\d:\d\d · in #backroom \d\d:\d\d:\d\d"
        assert re.fullmatch(f"#1 {LIVE_TRACKS[0][1]}: {both}", await page.inner_text("#toast-text"))
        assert re.fullmatch(both, (await page.inner_text("#track-1 .when-col .outcome")).strip())

        # every output has its badge: each channel, the relay (by name)
        async with Relay(bot.base_url, "sopel@testnet", acks=True):
            await page.locator("#relay-status", has_text="1 relay").wait_for()
            await page.keyboard.press("n")
            await page.locator("#toast[data-kind=ok] #toast-text", has_text="1/1 relays").wait_for()
            badges = page.locator("#toast-outputs .badge")
            await badges.filter(has_text="sopel@testnet ✓").wait_for()
            assert await badges.all_inner_texts() == ["#sewerchat ✓", "#backroom ✓",
                                                      "sopel@testnet ✓"]
            assert await page.get_attribute("#toast-outputs", "aria-hidden") == "true"
            await page.click("#history summary")
            item = page.locator("#history-list li").nth(1)
            assert await item.locator(".badge").all_inner_texts() == [
                "#sewerchat ✓", "#backroom ✓", "sopel@testnet ✓"]
            title = await item.locator(".badge").nth(2).get_attribute("title")
            assert title.startswith("relay:sopel@testnet: delivered")

        # any other output kind (Discord, a webhook) by a short name, with its state
        show_id = await page.evaluate(
            "(async () => (await (await fetch('/playlist')).json()).id)()")
        words = await page.evaluate("""async (showId) => {
            const st = await import('/static/dashboard-state.js');
            const at = new Date().toISOString();
            st.addAnnouncement({id: 9001, show_id: showId, position: 3, track_id: 13,
                announced_at: at, who: 'web:nick', delivery: 'delivered', airs_at: null,
                deliveries: [
                    {output: 'irc:#sewerchat', state: 'delivered', at, detail: ''},
                    {output: 'discord', state: 'delivered', at, detail: 'message 1'},
                    {output: 'webhook:hooks.example.net:8443', state: 'failed', at,
                     detail: 'HTTP 500'}]});
            st.addAnnouncement({id: 9002, show_id: showId, position: 4, track_id: 14,
                announced_at: at, who: 'web:nick', delivery: 'failed', airs_at: null,
                deliveries: [{output: 'discord', state: 'queued', at, detail: ''},
                             {output: 'webhook:example.org', state: 'sent', at, detail: ''}]});
            st.hooks.render();
            return [3, 4].map((p) => document.querySelector(
                '#track-' + p + ' .when-col .outcome').textContent);
        }""", show_id)
        assert re.fullmatch(r"in #sewerchat \d\d:\d\d:\d\d · Discord ✓ · "
                            r"hooks\.example\.net:8443 failed: HTTP 500", words[0]), words
        assert words[1] == "Discord sending… · example.org sending…", words
        item = page.locator("#history-list li[data-id='9001']")
        assert await item.locator(".badge").all_inner_texts() == [
            "#sewerchat ✓", "Discord ✓", "hooks.example.net:8443 ✗"]
        assert await item.locator(".badge").nth(2).get_attribute("data-state") == "failed"
        await page.screenshot(path=str(tmp_path / "dashboard-outputs.png"), full_page=True)
        assert problems == []
        await ctx.close()
    finally:
        await bot.stop(signal.SIGTERM)


async def set_delay_from_ui(page: Any, seconds: int) -> None:
    """The status bar's delay control: open it, type the seconds, Set."""
    if await page.get_attribute("#delay-toggle", "aria-expanded") != "true":
        await page.click("#delay-toggle")
    await page.fill("#delay-input", str(seconds))
    await page.click("#delay-set")


async def countdown(page: Any) -> int:
    import re

    text = await page.inner_text("#toast-text .seen")
    found = re.match(r"#\d+ airs in (\d+) s", text)
    assert found, text
    return int(found.group(1))


async def test_delay_countdown_cancel_and_queue(browser: Any, live_fake: FakeSoundCloud,
                                                miniircd: Any, tmp_path: Path) -> None:
    """Tonight's delay from the status bar; an announce counts down with Cancel, which
    really stops it (the channel never sees it); `n` meanwhile queues the next one."""
    import asyncio
    import re

    import httpx

    bot = await NtrbotProcess(tmp_path, live_env(live_fake, miniircd)).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "observer")
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    http = httpx.AsyncClient(base_url=bot.base_url, timeout=10)
    try:
        await observer.join("#sewerchat")
        await wait_bot_ready(bot.base_url)
        show_id = (await http.get("/playlist")).json()["id"]
        ctx, page, problems = await open_dashboard(
            browser, bot.base_url, viewport={"width": 390, "height": 844},
            device_scale_factor=2, is_mobile=True, has_touch=True)
        toggle = page.locator("#delay-toggle")
        await toggle.filter(has_text="no delay").wait_for()

        # the delay control: keyboard reachable, labelled, presets and any number
        await toggle.focus()
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#delay-panel:not([hidden])")
        assert await toggle.get_attribute("aria-expanded") == "true"
        assert "Announce delay" in await toggle.get_attribute("aria-label")
        assert await page.locator("label[for=delay-input]").count() == 1
        preset = page.locator(".delay-preset[data-seconds='10']")
        box = await preset.bounding_box()
        assert box is not None and box["height"] >= 44, box
        await preset.click()
        await toggle.filter(has_text="delay 10 s").wait_for()
        assert await preset.get_attribute("aria-pressed") == "true"
        assert await page.locator("#delay-panel").is_hidden()
        assert (await http.get("/admin/delay", headers=bearer)).json()["seconds"] == 10
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the delay control scrolls sideways on a phone ({width}px)"
        # set elsewhere (another tab, the API): this tab follows
        r = await http.put("/admin/delay", json={"seconds": 20}, headers=bearer)
        assert r.status_code == 200
        await toggle.filter(has_text="delay 20 s").wait_for()
        # out of range: the server's words in the toast, the delay unchanged
        await set_delay_from_ui(page, 700)
        await page.locator("#toast[data-kind=error]", has_text="0 to 600").wait_for()
        assert (await toggle.inner_text()).strip() == "delay 20 s"
        await set_delay_from_ui(page, 4)
        await toggle.filter(has_text="delay 4 s").wait_for()
        await page.screenshot(path=str(tmp_path / "delay-control.png"))

        # `n`: the toast counts down with Cancel; the channel has not seen the line
        since = observer.mark()
        await page.keyboard.press("n")
        seen = page.locator("#toast-text .seen")
        await seen.filter(has_text="#1 airs in").wait_for()
        assert re.fullmatch(rf"#1 airs in [1-4] s · {LIVE_TRACKS[0][1]}", await seen.inner_text())
        assert await seen.get_attribute("aria-hidden") == "true"
        spoken = await page.text_content("#toast-text .sr-only")
        assert spoken.startswith("#1 airs in ") and "Cancel" in spoken
        cancel = page.locator("#toast-cancel")
        assert (await cancel.inner_text()).strip() == "Cancel"
        outcome = page.locator("#track-1 .when-inline .outcome")
        assert (await outcome.inner_text()).startswith("airs in ")
        assert (await page.text_content("#history-list li .h-state")).startswith("airs in ")
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-countdown.png"))
        await cancel.click()
        await page.locator("#toast-text", has_text="#1 cancelled — nothing was sent").wait_for()
        assert (await outcome.inner_text()).strip() == "cancelled"
        await page.wait_for_selector("#track-1.next:not(.announced)")  # it does not count
        assert (await page.text_content("#history-list li .h-state")).strip() == "cancelled"
        assert "nothing announced yet" in await page.inner_text("#history-count")
        await asyncio.sleep(5)  # past its air time: still nothing in the channel
        assert not [m for m in observer.messages(since) if m.command == "PRIVMSG"]
        ann = await announcements(page, 1)
        assert ann["delivery"] == "cancelled"
        assert {d["state"] for d in ann["deliveries"]} == {"cancelled"}

        # again: it counts down (and only the start is read out), then it is in the channel
        since = observer.mark()
        await page.keyboard.press("n")
        await seen.filter(has_text="#1 airs in").wait_for()
        first = await countdown(page)
        said = await page.text_content("#toast-text .sr-only")
        await page.wait_for_function(
            """(first) => {
                const m = /airs in ([0-9]+) s/.exec(
                    document.querySelector('#toast-text .seen')?.textContent || '');
                return m && Number(m[1]) < first;
            }""", arg=first, timeout=3000)
        assert await page.text_content("#toast-text .sr-only") == said  # not every second
        assert not [m for m in observer.messages(since) if m.command == "PRIVMSG"]
        # `n` while #1 waits: #2 is queued after it (the server answers at once)
        await page.keyboard.press("n")
        await seen.filter(has_text="#2 airs in").wait_for()
        assert (await page.inner_text("#track-2 .when-inline .outcome")).startswith("airs in ")
        await page.wait_for_selector("#track-3.next")
        # #1 airs while #2 still counts down: #2 keeps the toast (and its Cancel)
        await outcome.filter(has_text="in #sewerchat").wait_for()
        assert (await page.inner_text("#toast-text")).startswith("#2 "), \
            await page.inner_text("#toast-text")
        await observer.wait_for(privmsg(announce_line(1)), 10, since)
        await observer.wait_for(privmsg(announce_line(2)), 10, since)
        said = [m.params[-1] for m in observer.messages(since) if m.command == "PRIVMSG"]
        assert said == [announce_line(1), announce_line(2)], said
        await page.locator("#toast[data-kind=ok] #toast-text", has_text="in #sewerchat").wait_for()
        ann1, ann2 = await announcements(page, 1), await announcements(page, 2)
        assert ann1["airs_at"] <= ann2["airs_at"]
        assert await page.inner_text("#toast-text") == (
            f"#2 {LIVE_TRACKS[1][1]}: in #sewerchat "
            + await local_time(page, ann2["delivered_at"]))
        await outcome.filter(has_text="in #sewerchat").wait_for()
        assert (await outcome.inner_text()).strip() == \
            "in #sewerchat " + await local_time(page, ann1["delivered_at"])
        assert await page.locator("#toast-cancel").count() == 0
        # a repeat is still guarded
        await page.click("#track-1 button.announce")
        await page.wait_for_selector("#confirm[open]")
        await page.click("#confirm-cancel")

        # an announce from elsewhere with its own delay: counted down here too, read out
        # at its start and at 5 s; Cancel works from this tab
        r = await http.post("/admin/announce", headers=bearer,
                            json={"show_id": show_id, "position": 3, "delay": 8})
        assert r.status_code == 200 and r.json()["airs_at"]
        await seen.filter(has_text="#3 airs in").wait_for()
        assert "announced by token" in await seen.inner_text()
        start = await page.text_content("#toast-text .sr-only")
        assert start.startswith("#3 airs in ")
        await page.wait_for_function(
            "() => /^#3 airs in [45] s$/.test("
            "document.querySelector('#toast-text .sr-only')?.textContent || '')", timeout=8000)
        assert (await page.text_content("#toast-text .sr-only")) != start
        await page.click("#toast-cancel")
        await page.locator("#toast-text", has_text="#3 cancelled — nothing was sent").wait_for()

        # the delay is kept server-side: it survives a reload
        await page.reload()
        await toggle.filter(has_text="delay 4 s").wait_for()
        await page.wait_for_selector("#track-2.announced")
        await page.wait_for_selector("#track-3:not(.announced)")
        assert (await page.inner_text("#track-3 .when-inline .outcome")).strip() == "cancelled"
        await asyncio.sleep(1)
        assert [m.params[-1] for m in observer.messages(since) if m.command == "PRIVMSG"] == \
            [announce_line(1), announce_line(2)]
        assert [p for p in problems if "status of 4" not in p] == []
        await ctx.close()
    finally:
        await http.aclose()
        await observer.close()
        code = await bot.stop(signal.SIGTERM)
    assert code == 0
