"""axe-core (WCAG 2.1 A/AA) on the login page, the dashboard and the public page, plus keyboard
reachability with a visible focus, in Debian's Chromium; the pages keep their strict CSP."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.settings import Settings
from ntrbot.tools.sample_data import sample_playlists
from tests.support.constants import BEARER, SHOW_START

pytestmark = [pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
# scripts/test installs axe-core here (npm); AXE_CORE_JS may point at another axe.min.js.
AXE = Path(os.environ.get("AXE_CORE_JS")
           or REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
WEB_USER, WEB_PASSWORD, SECRET_KEY = "host", "a-long-enough-password", "k" * 40
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class Clock:
    def __init__(self) -> None:
        self.now = SHOW_START + timedelta(minutes=30)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def axe_source() -> str:
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE} (scripts/test installs it with npm)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
async def site(make_settings: Callable[..., Settings],
               aiohttp_client: Any) -> TestClient[Any, Any]:
    """The app with the dashboard on, on loopback, with the demo's shows; two announces and
    a retracted one."""
    clock = Clock()
    app = create_app(make_settings(web_user=WEB_USER, web_password=WEB_PASSWORD,
                                   secret_key=SECRET_KEY, cookie_secure="false"),
                     now=clock, start_poller=False)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    tracks, playlists = sample_playlists(app[keys.CLOCK], clock())
    await app[keys.DB].save_playlists(tracks, playlists)
    show = await (await client.get("/playlist")).json()
    for position in (1, 2, 4):
        clock.now += timedelta(minutes=4)
        r = await client.post("/admin/announce", headers=BEARER,
                              json={"show_id": show["id"], "position": position})
        assert r.status == 200, await r.text()
    # the last one is retracted: the history shows it struck through
    r = await client.delete(f"/admin/announcements/{(await r.json())['announcement_id']}",
                            headers=BEARER)
    assert r.status == 200, await r.text()
    return client


async def axe_problems(page: Any, source: str) -> list[str]:
    """Serious and critical axe-core violations (WCAG 2.0/2.1 A and AA) on the page now."""
    # evaluate() runs through the DevTools protocol: the page's CSP stays as it is.
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(source)
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), why: n.failureSummary}))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']}: " + json.dumps(v["nodes"])[:1500]
            for v in result if v["impact"] in ("serious", "critical")]


async def focus_problems(page: Any, max_tabs: int = 400) -> list[str]:
    """Tab through the page: every visible control gets the focus, each with a visible ring."""
    controls = await page.evaluate("""() => {
        const sel = 'a[href], button, input, select, textarea, summary, [tabindex]';
        return [...document.querySelectorAll(sel)].filter(e => {
            const r = e.getBoundingClientRect();
            const shut = e.closest('details:not([open])');  // inside a closed <details>
            return !e.disabled && e.tabIndex >= 0 && r.width > 0 && r.height > 0 &&
                e.checkVisibility({visibilityProperty: true}) &&
                !(shut && e.parentElement !== shut);
        }).map((e, i) => { e.dataset.a11yId = String(i); return String(i); });
    }""")
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.evaluate("window.scrollTo(0, 0)")
    reached: set[str] = set()
    problems: list[str] = []
    for _ in range(min(max_tabs, 3 * len(controls) + 5)):
        await page.keyboard.press("Tab")
        info = await page.evaluate("""() => {
            const e = document.activeElement;
            if (!e || e === document.body) return null;
            const s = getComputedStyle(e);
            // a solid ring of 2px or more (Pico's own is a faint 35% pink shadow)
            const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
            return {id: e.dataset.a11yId || null, ring,
                    what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' +
                          (e.textContent || e.value || '').trim().slice(0, 30)};
        }""")
        if info is None:
            continue
        if info["id"] is not None:
            reached.add(info["id"])
        if not info["ring"]:
            problems.append(f"no visible focus on {info['what']}")
        if reached >= set(controls):
            break
    missing = await page.evaluate("""(ids) => ids.map(i => {
        const e = document.querySelector('[data-a11y-id="' + i + '"]');
        return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' +
            (e.textContent || '').trim().slice(0, 30);
    })""", sorted(set(controls) - reached, key=int))
    problems += [f"not reachable by Tab: {m}" for m in missing]
    return sorted(set(problems))


def none(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


async def log_in(page: Any, base: str) -> None:
    await page.goto(base + "/login")
    await page.fill("#username", WEB_USER)
    await page.fill("#password", WEB_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/dashboard")
    await page.wait_for_selector("#track-1")
    await page.wait_for_selector("#socket-status[data-state=ok]")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_login_page_has_no_serious_axe_violations(browser: Any, site: Any,
                                                        axe_source: str,
                                                        viewport: dict[str, int]) -> None:
    ctx = await browser.new_context(viewport=viewport, reduced_motion="reduce")
    page = await ctx.new_page()
    await page.goto(str(site.make_url("/login")))
    none(await axe_problems(page, axe_source))
    none(await focus_problems(page))
    # the error message too
    await page.fill("#username", WEB_USER)
    await page.fill("#password", "wrong-password")
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=Invalid")
    none(await axe_problems(page, axe_source))
    await ctx.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_dashboard_has_no_serious_axe_violations(browser: Any, site: Any,
                                                       axe_source: str,
                                                       viewport: dict[str, int]) -> None:
    ctx = await browser.new_context(viewport=viewport, reduced_motion="reduce")
    page = await ctx.new_page()
    errors: list[str] = []
    # Chromium logs every non-2xx fetch; the 409 of the repeat is what opens the confirm.
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "status of 409" not in m.text else None)
    await log_in(page, str(site.make_url("")).rstrip("/"))
    none(await axe_problems(page, axe_source))
    none(await focus_problems(page))

    # edit mode open, the history open, the previous show open
    await page.click("#edit-toggle")
    await page.wait_for_selector("#edit-panel:not([hidden])")
    await page.click("#history summary")
    await page.evaluate("document.getElementById('previous').open = true")
    none(await axe_problems(page, axe_source))
    none(await focus_problems(page))

    # an announce: its outcome is in a polite live region, with its Undo button
    await page.click("#edit-toggle")
    await page.wait_for_selector("#edit-panel", state="hidden")
    await page.click("#track-3 button.announce")
    await page.wait_for_selector("#toast:not([hidden])")
    toast = page.locator("#toast")
    assert await toast.get_attribute("role") == "status"
    assert await toast.get_attribute("aria-live") == "polite"
    assert await toast.get_attribute("aria-atomic") == "true"
    assert "#3" in await page.inner_text("#toast-text")
    assert "Undo" in await page.inner_text("#toast-actions")
    none(await axe_problems(page, axe_source))

    # the repeat confirm: a modal dialog, its buttons reachable, Escape closes it
    await page.click("#track-1 button.announce")
    await page.wait_for_selector("#confirm[open]")
    none(await axe_problems(page, axe_source))
    assert await page.evaluate("document.activeElement.id") == "confirm-ok"
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate("document.activeElement.id") == "confirm-cancel"
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#confirm", state="hidden")
    assert errors == []
    await ctx.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_public_page_has_no_serious_axe_violations(browser: Any, site: Any,
                                                         axe_source: str,
                                                         viewport: dict[str, int]) -> None:
    ctx = await browser.new_context(viewport=viewport, reduced_motion="reduce")
    page = await ctx.new_page()
    await page.goto(str(site.make_url("/")))
    await page.wait_for_selector("#socket-status[data-state=ok]")
    await page.wait_for_selector("#track-2.playing")
    none(await axe_problems(page, axe_source))
    none(await focus_problems(page))
    await ctx.close()


async def test_signed_in_login_page_logs_out_by_its_post_form(browser: Any, site: Any,
                                                               axe_source: str) -> None:
    """/login (and GET /logout, which only leads there) shows the signed-in host a Log out
    button; it posts the form (same origin), and only that logs out."""
    ctx = await browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    page = await ctx.new_page()
    base = str(site.make_url("")).rstrip("/")
    await log_in(page, base)
    await page.goto(base + "/logout")  # a GET: changes nothing
    assert page.url.endswith("/login")
    await page.wait_for_selector("text=Logged in as")
    none(await axe_problems(page, axe_source))
    none(await focus_problems(page))
    await page.goto(base + "/dashboard")
    assert page.url.endswith("/dashboard")  # still signed in
    await page.goto(base + "/login")
    async with page.expect_request(lambda r: r.url.endswith("/logout")) as sent:
        await page.click("button:has-text('Log out')")
    assert (await sent.value).method == "POST"
    await page.wait_for_url("**/login")
    await page.wait_for_selector("#password")
    await page.goto(base + "/dashboard")
    assert page.url.endswith("/login")
    await ctx.close()
