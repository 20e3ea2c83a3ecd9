"""Browser test helpers: Debian's Chromium and its flags, the screenshots folder, a login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.constants import WEB_PASSWORD, WEB_USER

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Without the background-networking flags Chromium tries to reach Google's hosts.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


async def open_dashboard(browser: Any, base_url: str, **context: Any) -> tuple[Any, Any, list[str]]:
    """A new context logged into the dashboard: (context, page, console problems)."""
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
