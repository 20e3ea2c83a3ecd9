"""HTTP tests of the dashboard: login, logout, redirects, throttling, cookies, headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ntrbot.http.auth import hash_password
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.dashboard import dashboard_settings
from tests.support.plugin import MakeApp

LOGIN = {"username": WEB_USER, "password": WEB_PASSWORD}


@pytest.fixture
async def client(make_settings: Callable[..., Settings], aiohttp_client: Any,
                 make_app: MakeApp) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(make_app(dashboard_settings(make_settings)))
    return client


async def login(client: TestClient[Any, Any], **headers: str) -> Any:
    return await client.post("/login", data=LOGIN, allow_redirects=False, headers=headers)


def session_cookie(client: TestClient[Any, Any]) -> str | None:
    for c in client.session.cookie_jar:
        if c.key == "ntr_session":
            return c.value
    return None


async def test_dashboard_redirects_to_login_without_session(client: TestClient[Any, Any]) -> None:
    r = await client.get("/dashboard", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"


async def test_login_page(client: TestClient[Any, Any]) -> None:
    r = await client.get("/login")
    assert r.status == 200
    text = await r.text()
    assert 'name="username"' in text and 'name="password"' in text
    assert "<script" not in text.replace('<script src="', "")  # no inline script
    assert ADMIN_TOKEN not in text


async def test_login_success_sets_cookie_and_opens_dashboard(client: TestClient[Any, Any]) -> None:
    r = await login(client)
    assert r.status == 303 and r.headers["Location"] == "/dashboard"
    cookie = r.cookies["ntr_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # cookie_secure=false in these tests
    assert int(cookie["max-age"]) == 24 * 3600
    page = await client.get("/dashboard", allow_redirects=False)
    assert page.status == 200
    text = await page.text()
    assert "dashboard.js" in text
    assert ADMIN_TOKEN not in text and SECRET_KEY not in text and WEB_PASSWORD not in text
    # logged in: /login says so, links the dashboard and offers Log out (a POST form)
    again = await client.get("/login", allow_redirects=False)
    assert again.status == 200
    text = await again.text()
    assert f"Logged in as <strong>{WEB_USER}</strong>" in text and 'href="/dashboard"' in text
    assert '<form method="post" action="/logout">' in text and "Log out" in text
    assert 'name="password"' not in text and ADMIN_TOKEN not in text


async def test_wrong_password_is_200_invalid(client: TestClient[Any, Any]) -> None:
    r = await client.post("/login", data={"username": WEB_USER, "password": "nope"},
                          allow_redirects=False)
    assert r.status == 200
    assert "Invalid" in await r.text()
    assert "ntr_session" not in r.cookies
    r = await client.post("/login", data={"username": "other", "password": WEB_PASSWORD},
                          allow_redirects=False)
    assert r.status == 200 and "Invalid" in await r.text()
    r = await client.post("/login", data={}, allow_redirects=False)
    assert r.status == 200 and "Invalid" in await r.text()


async def test_logout_clears_session(client: TestClient[Any, Any]) -> None:
    await login(client)
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200
    r = await client.post("/logout", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303


async def test_get_logout_changes_nothing(client: TestClient[Any, Any]) -> None:
    """A GET (a link, an <img> on any site) must not log the host out: it answers 303 to
    /login, where the signed-in host finds the Log out button."""
    await login(client)
    value = session_cookie(client)
    r = await client.get("/logout", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    assert session_cookie(client) == value
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200
    r = await client.get("/dashboard", allow_redirects=False,
                         headers={"Cookie": f"ntr_session={value}"})
    assert r.status == 200


async def test_old_cookie_is_useless_after_logout_in_same_browser(
        client: TestClient[Any, Any]) -> None:
    await login(client)
    await client.post("/logout", allow_redirects=False)
    assert session_cookie(client) in (None, "")


async def test_tampered_cookie_is_logged_out(client: TestClient[Any, Any], aiohttp_client: Any,
                                             make_app: MakeApp,
                                             make_settings: Callable[..., Settings]) -> None:
    await login(client)
    value = session_cookie(client)
    assert value
    flipped = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]
    other = await aiohttp_client(make_app(dashboard_settings(make_settings)))
    for bad in (flipped, value[:-3], "garbage", ""):
        r = await other.get("/dashboard", allow_redirects=False,
                            headers={"Cookie": f"ntr_session={bad}"})
        assert r.status == 303, bad
        r = await other.post("/admin/announce", json={"show_id": 1, "position": 1},
                             headers={"Cookie": f"ntr_session={bad}"})
        assert r.status == 401
    # the untouched cookie works from another client (same secret key)
    r = await other.get("/dashboard", allow_redirects=False,
                        headers={"Cookie": f"ntr_session={value}"})
    assert r.status == 200


async def test_cookie_from_another_secret_key_is_refused(
        client: TestClient[Any, Any], aiohttp_client: Any,
        make_app: MakeApp, make_settings: Callable[..., Settings]) -> None:
    await login(client)
    value = session_cookie(client)
    other = await aiohttp_client(make_app(dashboard_settings(make_settings,
                                                           secret_key="z" * 40)))
    r = await other.get("/dashboard", allow_redirects=False,
                        headers={"Cookie": f"ntr_session={value}"})
    assert r.status == 303


async def test_login_throttled_after_five_failures(client: TestClient[Any, Any]) -> None:
    for _ in range(5):
        r = await client.post("/login", data={"username": WEB_USER, "password": "bad"})
        assert r.status == 200
    r = await client.post("/login", data=LOGIN, allow_redirects=False)
    assert r.status == 429
    assert "Too many failed logins" in (await r.json())["error"]
    r = await client.post("/login", data=LOGIN, allow_redirects=False,
                          headers={"Accept": "text/html"})
    assert r.status == 429
    text = await r.text()
    assert "Too many failed logins" in text and "seconds" in text
    assert "ntr_session" not in r.cookies


async def test_cross_origin_login_refused(client: TestClient[Any, Any]) -> None:
    r = await login(client, Origin="http://evil.example")
    assert r.status == 403
    assert "ntr_session" not in r.cookies
    assert (await r.json())["error"] == "Cross-site login refused."
    # A browser (which asks for HTML) gets the login page with the same words.
    r = await login(client, Origin="http://evil.example", Accept="text/html,*/*;q=0.8")
    assert r.status == 403 and r.content_type == "text/html"
    assert "Cross-site login refused." in await r.text()


async def test_cross_origin_cookie_posts_refused(client: TestClient[Any, Any]) -> None:
    await login(client)
    evil = {"Origin": "http://evil.example"}
    r = await client.post("/admin/announce", json={"show_id": 1, "position": 1}, headers=evil)
    assert r.status == 403 and "error" in await r.json()
    r = await client.post("/admin/refresh", headers=evil)
    assert r.status == 403 and "error" in await r.json()
    r = await client.post("/admin/refresh",
                          headers={"Referer": "http://evil.example/page"})
    assert r.status == 403
    r = await client.post("/logout", headers=evil, allow_redirects=False)
    assert r.status == 403
    # same origin is fine
    origin = f"http://{client.host}:{client.port}"
    r = await client.post("/admin/refresh", headers={"Origin": origin})
    assert r.status == 200


async def test_origin_must_have_the_request_s_own_scheme(
        make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp) -> None:
    """http://host is not https://host: a page over plain http (which anyone on the path can
    rewrite) may not post to the https site, nor the other way round. Behind a trusted
    proxy the scheme is the one its X-Forwarded-Proto says."""
    for trusted in (True, False):
        settings = dashboard_settings(make_settings, **(
            {} if trusted else {"trusted_proxies": ()}))
        client = await aiohttp_client(make_app(settings))
        await login(client)
        site = f"{client.host}:{client.port}"
        http, https = {"Origin": f"http://{site}"}, {"Origin": f"https://{site}"}
        forwarded = {"X-Forwarded-Proto": "https"}
        assert (await client.post("/admin/refresh", headers=http)).status == 200
        assert (await client.post("/admin/refresh", headers=https)).status == 403
        assert (await client.post("/admin/refresh", headers={
            "Referer": f"https://{site}/dashboard"})).status == 403
        r = await client.post("/admin/refresh", headers={**https, **forwarded})
        assert r.status == (200 if trusted else 403)
        r = await client.post("/admin/refresh", headers={**http, **forwarded})
        assert r.status == (403 if trusted else 200)
        r = await client.post("/logout", headers=https, allow_redirects=False)
        assert r.status == 403
        await client.close()


async def test_security_headers_on_pages(client: TestClient[Any, Any]) -> None:
    for path in ("/login", "/static/dashboard.js", "/static/style.css"):
        r = await client.get(path)
        assert r.status == 200, path
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_static_files_and_no_secret_anywhere(client: TestClient[Any, Any]) -> None:
    r = await client.get("/static/vendor/pico.min.css")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/css")
    assert "Pico CSS" in (await r.text())[:300]  # license header kept
    for path in ("/static/login.html", "/static/../ntrbot/auth.py", "/static/__init__.py",
                 "/static/%2e%2e/pyproject.toml", "/static/%00", "/static/style.css%00"):
        assert (await client.get(path)).status == 404, path
    await login(client)
    for path in ("/dashboard", "/static/dashboard.js", "/login"):
        text = await (await client.get(path)).text()
        assert ADMIN_TOKEN not in text and SECRET_KEY not in text


async def test_secure_cookie_settings(make_settings: Callable[..., Settings],
                                      aiohttp_client: Any, make_app: MakeApp) -> None:
    auto = await aiohttp_client(make_app(dashboard_settings(make_settings, cookie_secure="auto")))
    r = await login(auto)
    assert not r.cookies["ntr_session"]["secure"]
    r = await login(auto, **{"X-Forwarded-Proto": "https"})
    assert r.cookies["ntr_session"]["secure"] is True
    always = await aiohttp_client(make_app(dashboard_settings(make_settings,
                                                            cookie_secure="true")))
    r = await login(always)
    assert r.cookies["ntr_session"]["secure"] is True


async def test_hashed_password_login(make_settings: Callable[..., Settings],
                                     aiohttp_client: Any, make_app: MakeApp) -> None:
    settings = dashboard_settings(make_settings, web_password=hash_password("hunter2"))
    client = await aiohttp_client(make_app(settings))
    r = await client.post("/login", data={"username": WEB_USER, "password": "hunter2"},
                          allow_redirects=False)
    assert r.status == 303
    r = await client.post("/login", data={"username": WEB_USER,
                                          "password": settings.web_password},
                          allow_redirects=False)
    assert r.status == 200  # the hash itself is not the password


async def test_dashboard_routes_404_when_disabled(make_settings: Callable[..., Settings],
                                                  aiohttp_client: Any, make_app: MakeApp) -> None:
    client = await aiohttp_client(make_app(make_settings()))
    for path in ("/login", "/dashboard", "/logout", "/ws/dashboard", "/static/style.css"):
        r = await client.get(path, allow_redirects=False)
        assert r.status == 404, path
        assert "error" in await r.json()
    assert (await client.post("/login", data=LOGIN)).status == 404
    # the admin API still works with the bearer token, and refuses anything else
    r = await client.post("/admin/refresh",
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status == 200
    assert (await client.post("/admin/refresh")).status == 401


async def test_null_origin_form_posts(client: TestClient[Any, Any]) -> None:
    r = await login(client, Origin="null")
    assert r.status == 303
    r = await client.post("/admin/announce", json={"show_id": 1, "position": 1},
                          headers={"Origin": "null"})
    assert r.status == 403  # the admin API (fetch) always has a real Origin
    r = await client.post("/logout", headers={"Origin": "null"}, allow_redirects=False)
    assert r.status == 303


@pytest.mark.parametrize("enabled", [True, False])
async def test_real_app_factory_wiring(make_settings: Callable[..., Settings],
                                       aiohttp_client: Any, enabled: bool) -> None:
    from ntrbot.app import create_app

    settings = dashboard_settings(make_settings) if enabled else make_settings()
    client = await aiohttp_client(create_app(settings, start_poller=False))
    r = await client.get("/dashboard", allow_redirects=False)
    assert r.status == (303 if enabled else 404)
    r = await client.post("/login", data=LOGIN, allow_redirects=False)
    assert r.status == (303 if enabled else 404)
    r = await client.post("/admin/announce", json={"show_id": 1, "position": 1})
    assert r.status == (404 if enabled else 401)  # logged in: no such show yet
    ws = await client.ws_connect("/ws/announce")
    await ws.send_json({"type": "subscribe", "token": ADMIN_TOKEN})
    assert (await ws.receive_json(timeout=5)) == {"type": "status", "subscribers": 1}
    health = await (await client.get("/health")).json()
    assert health["subscribers"] == 1


async def test_copied_cookie_refused_after_logout(client: TestClient[Any, Any]) -> None:
    await login(client)
    value = session_cookie(client)
    await client.post("/logout", allow_redirects=False)
    r = await client.get("/dashboard", allow_redirects=False,
                         headers={"Cookie": f"ntr_session={value}"})
    assert r.status == 303
    r = await client.post("/admin/announce", json={"show_id": 1, "position": 1},
                          headers={"Cookie": f"ntr_session={value}"})
    assert r.status == 401


async def test_password_change_ends_sessions(make_settings: Callable[..., Settings],
                                             aiohttp_client: Any, make_app: MakeApp,
                                             client: TestClient[Any, Any]) -> None:
    await login(client)
    value = session_cookie(client)
    changed = await aiohttp_client(make_app(dashboard_settings(make_settings,
                                                             web_password="new password")))
    r = await changed.get("/dashboard", allow_redirects=False,
                          headers={"Cookie": f"ntr_session={value}"})
    assert r.status == 303


async def test_failed_login_keeps_username_escaped(client: TestClient[Any, Any]) -> None:
    r = await client.post("/login", data={"username": '"><script>x</script>', "password": "x"})
    text = await r.text()
    assert "Invalid" in text and "<script>x" not in text
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in text


async def test_dashboard_modules_served_and_csp_clean(client: TestClient[Any, Any]) -> None:
    """Every script the page loads (and every module they import) is a /static file; no
    inline script or style that `script-src 'self'; style-src 'self'` would block."""
    import re

    await login(client)
    r = await client.get("/dashboard")
    page = await r.text()
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    assert "style-src 'self'" in r.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline <script>"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page), "inline style or handler"
    todo = re.findall(r'<script[^>]*src="/static/([^"]+)"', page)
    assert "dashboard.js" in todo
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        r = await client.get(f"/static/{name}")
        assert r.status == 200, name
        assert r.headers["Content-Type"].startswith("text/javascript")
        text = await r.text()
        assert ADMIN_TOKEN not in text and SECRET_KEY not in text
        assert len(text.splitlines()) < 400, f"{name} is too long; split it"
        assert not re.search(r"\.style\b|setAttribute\(\s*['\"]style|innerHTML|eval\(", text), name
        todo += re.findall(r"from\s+'\./([\w.-]+\.js)'", text)
    assert {"dashboard-edit.js", "dashboard-history.js", "dashboard-render.js",
            "dashboard-state.js", "dashboard-util.js", "dashboard-announce.js",
            "dashboard-delivery.js", "dashboard-delay.js", "dashboard-countdown.js"} <= seen
    # the toast is a polite live region (errors switch it to role="alert")
    assert re.search(r'id="toast"[^>]*role="status"[^>]*aria-live="polite"', page)


def test_dashboard_files_ship_in_the_wheel() -> None:
    """web/*.js, *.css, *.html are package data of ntrbot.web (served as /static when installed)."""
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["ntrbot.web"]
    names = [p.name for p in (root / "web").iterdir() if p.suffix in (".js", ".css", ".html")]
    assert "dashboard-edit.js" in names
    for name in names:
        assert any(fnmatch(name, g) for g in globs), name
