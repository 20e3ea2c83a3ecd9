"""Security promises: client address behind proxies, login bursts, token throttles, relays."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, make_mocked_request

from ntrbot.app import create_app
from ntrbot.attempts import Throttle
from ntrbot.http import auth
from ntrbot.http.clientaddr import client_address
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, BEARER, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.dashboard import dashboard_settings
from tests.support.fakes import FakeIrc
from tests.support.plugin import MakeApp
from tests.support.seed import seed_app

RELAY_TOKEN = "relay-token-0123456789abcdef"


def _request(peer: str, headers: dict[str, str], settings: Settings) -> Any:
    """A request from `peer` to the app of `settings`."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default)
    return make_mocked_request("GET", "/", headers=headers, transport=transport,
                               app=create_app(settings, start_poller=False))


# --- client address ----------------------------------------------------------------------

def test_client_address_is_the_rightmost_untrusted_hop(settings: Settings) -> None:
    xff = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    assert client_address(_request("127.0.0.1", xff, settings)) == "198.51.100.7"
    # the client wrote the first hop itself: it never counts
    assert client_address(_request("127.0.0.1", {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"},
                                   settings)) == "2.2.2.2"
    # a peer that is not a trusted proxy cannot set it at all
    assert client_address(_request("203.0.113.5", xff, settings)) == "203.0.113.5"
    assert client_address(_request("127.0.0.1", {}, settings)) == "127.0.0.1"
    assert client_address(_request("::1", {"X-Forwarded-For": "2001:db8::7"},
                                   settings)) == "2001:db8::7"


def test_client_address_through_a_chain_of_trusted_proxies(
        make_settings: Callable[..., Settings]) -> None:
    s = make_settings(trusted_proxies=("127.0.0.1/32", "10.0.0.0/8"))
    req = _request("127.0.0.1", {"X-Forwarded-For": "9.9.9.9, 198.51.100.1, 10.1.2.3"}, s)
    assert client_address(req) == "198.51.100.1"
    none = make_settings(trusted_proxies=())
    assert client_address(_request("127.0.0.1", {"X-Forwarded-For": "9.9.9.9"},
                                   none)) == "127.0.0.1"


# --- login: counted on arrival, hashing off the loop ----------------------------------------

@pytest.fixture
async def dash(make_settings: Callable[..., Settings], aiohttp_client: Any,
               make_app: MakeApp) -> TestClient[Any, Any]:
    app = make_app(dashboard_settings(make_settings, relay_tokens=(RELAY_TOKEN,)), FakeIrc())
    client: TestClient[Any, Any] = await aiohttp_client(app)
    await seed_app(app)
    return client


async def _slow_login(client: TestClient[Any, Any], password: str, go: asyncio.Event,
                      sent: list[int]) -> int:
    """A login whose headers arrive at once and whose body waits for `go`."""
    body = f"username={WEB_USER}&password={password}".encode()
    assert client.port is not None
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST /login HTTP/1.1\r\nHost: %s:%d\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                 % (client.host.encode(), client.port, len(body)))
    await writer.drain()
    sent.append(1)
    status_line = asyncio.ensure_future(reader.readline())
    await asyncio.wait([status_line, asyncio.ensure_future(go.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    if not status_line.done():  # not answered before its body: send it
        writer.write(body)
        await writer.drain()
    line = await asyncio.wait_for(status_line, 30)
    writer.close()
    return int(line.split()[1])


async def test_a_burst_of_slow_logins_cannot_overtake_the_limit(dash: TestClient[Any, Any]) -> None:
    go, sent = asyncio.Event(), list[int]()
    n = 16
    tasks = [asyncio.ensure_future(_slow_login(dash, "wrong", go, sent)) for _ in range(n - 1)]
    while len(sent) < n - 1:
        await asyncio.sleep(0.01)
    tasks.append(asyncio.ensure_future(_slow_login(dash, WEB_PASSWORD, go, sent)))
    while len(sent) < n:
        await asyncio.sleep(0.01)
    for _ in range(5):  # let the server read every request head before the bodies go
        assert (await dash.get("/health")).status == 200
        await asyncio.sleep(0.05)
    go.set()
    statuses = await asyncio.gather(*tasks)
    judged = [s for s in statuses if s in (200, 303)]
    assert len(judged) <= 5, statuses
    assert statuses[-1] == 429  # the right password, beyond the limit, did not get in
    assert statuses.count(429) == n - len(judged)


async def test_password_hashing_runs_off_the_event_loop(make_settings: Callable[..., Settings],
                                                        aiohttp_client: Any,
                                                        make_app: MakeApp) -> None:
    hashed = auth.hash_password(WEB_PASSWORD)
    client = await aiohttp_client(make_app(dashboard_settings(make_settings,
                                                            web_password=hashed)))
    release = threading.Event()
    running, seen = [0], {"max": 0, "released": True}
    lock = threading.Lock()
    real = auth._credentials_ok

    def slow_check(*args: Any) -> bool:
        with lock:
            running[0] += 1
            seen["max"] = max(seen["max"], running[0])
        # never released while the loop is blocked: then nothing can set `release`
        seen["released"] &= release.wait(5)
        with lock:
            running[0] -= 1
        return real(*args)

    with mock.patch.object(auth, "_credentials_ok", slow_check):
        logins = [asyncio.ensure_future(client.post(
            "/login", data={"username": WEB_USER, "password": "nope"}, allow_redirects=False,
            headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})) for i in range(4)]
        while running[0] < auth.HASH_SLOTS:
            await asyncio.sleep(0.01)
        health = await client.get("/health")  # answered while the hashes run
        assert health.status == 200
        release.set()
        for r in await asyncio.gather(*logins):
            assert r.status == 200 and "Invalid" in await r.text()
    assert seen["released"] and seen["max"] == auth.HASH_SLOTS


async def test_login_429_has_retry_after(dash: TestClient[Any, Any]) -> None:
    for _ in range(5):
        await dash.post("/login", data={"username": WEB_USER, "password": "bad"})
    r = await dash.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                        allow_redirects=False)
    assert r.status == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    # another client behind the same trusted proxy is not locked out
    r = await dash.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                        allow_redirects=False, headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status == 303


def test_reserve_counts_before_the_outcome() -> None:
    now = [0.0]
    t = Throttle(per_client=2, window=60, clock=lambda: now[0])
    assert t.reserve("a") == 0 and t.reserve("a") == 0
    assert t.reserve("a") > 0  # two in flight: the third is refused before any finishes
    t.succeeded("a")
    assert t.reserve("a") == 0


# --- bearer and relay tokens ------------------------------------------------------------

async def test_wrong_bearer_tokens_are_throttled_per_client(dash: TestClient[Any, Any]) -> None:
    body = {"show_id": 1, "position": 1}
    for _ in range(5):
        r = await dash.post("/admin/refresh", headers={"Authorization": "Bearer guess-guess"})
        assert r.status == 401
    r = await dash.post("/admin/refresh", headers=BEARER)  # even the right one: no oracle
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert "error" in await r.json()
    other = {**BEARER, "X-Forwarded-For": "198.51.100.20"}
    assert (await dash.post("/admin/refresh", headers=other)).status == 200
    r = await dash.post("/admin/announce", json=body, headers=BEARER)
    assert r.status == 429


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/admin/refresh"), ("POST", "/admin/announce"),
    ("POST", "/admin/shows/1/tracks"), ("DELETE", "/admin/shows/1/tracks/1"),
    ("PATCH", "/admin/shows/1/tracks/1"), ("DELETE", "/admin/announcements/1"),
])
async def test_relay_tokens_are_refused_by_every_admin_route(
        make_settings: Callable[..., Settings], aiohttp_client: Any, method: str,
        path: str) -> None:
    app = create_app(make_settings(relay_tokens=(RELAY_TOKEN,)), start_poller=False)
    client = await aiohttp_client(app)
    r = await client.request(method, path, json={"show_id": 1, "position": 1, "to": 2},
                             headers={"Authorization": f"Bearer {RELAY_TOKEN}"})
    assert r.status == 403 and "relay" in (await r.json())["error"]
    assert RELAY_TOKEN not in await r.text()


async def test_relay_token_subscribes(dash: TestClient[Any, Any]) -> None:
    ws = await dash.ws_connect("/ws/announce")
    await ws.send_json({"type": "subscribe", "token": RELAY_TOKEN})
    msg = await ws.receive_json(timeout=5)
    assert msg["type"] == "status" and msg["subscribers"] == 1
    await ws.close()


async def test_wrong_subscribe_tokens_are_throttled(dash: TestClient[Any, Any]) -> None:
    for _ in range(5):
        ws = await dash.ws_connect("/ws/announce")
        await ws.send_json({"type": "subscribe", "token": "guess-guess-guess"})
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001
        await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await dash.ws_connect("/ws/announce")
    assert info.value.status == 429
    assert info.value.headers is not None and "Retry-After" in info.value.headers
    ws = await dash.ws_connect("/ws/announce", headers={"X-Forwarded-For": "198.51.100.30"})
    await ws.send_json({"type": "subscribe", "token": ADMIN_TOKEN})
    assert (await ws.receive_json(timeout=5))["type"] == "status"
    await ws.close()


async def test_at_most_20_unsubscribed_announce_sockets_per_client(
        dash: TestClient[Any, Any]) -> None:
    silent = [await dash.ws_connect("/ws/announce") for _ in range(20)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await dash.ws_connect("/ws/announce")
    assert info.value.status == 429
    other = await dash.ws_connect("/ws/announce", headers={"X-Forwarded-For": "198.51.100.40"})
    await other.send_json({"type": "subscribe", "token": ADMIN_TOKEN})
    assert (await other.receive_json(timeout=5))["type"] == "status"
    # once one of them subscribes, the address may open another
    await silent[0].send_json({"type": "subscribe", "token": ADMIN_TOKEN})
    assert (await silent[0].receive_json(timeout=5))["type"] == "status"
    again = await dash.ws_connect("/ws/announce")
    for ws in [*silent, other, again]:
        await ws.close()


async def test_public_socket_cap_uses_the_rightmost_hop(
        make_settings: Callable[..., Settings], aiohttp_client: Any) -> None:
    from ntrbot.keys import FEED

    client = await aiohttp_client(create_app(make_settings(), start_poller=False))
    client.app[FEED].max_per_peer = 2
    opened = [await client.ws_connect("/ws/public",
                                      headers={"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.50"})
              for i in range(2)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        # a client that writes another first hop is still the same client
        await client.ws_connect("/ws/public", headers={"X-Forwarded-For":
                                                       "10.9.9.99, 198.51.100.50"})
    assert info.value.status == 429
    for ws in opened:
        await ws.close()


# --- who announced: only for the host ----------------------------------------------------------

async def test_who_only_for_session_or_bearer_callers(make_settings: Callable[..., Settings],
                                                      aiohttp_client: Any) -> None:
    app = create_app(dashboard_settings(make_settings, relay_tokens=(RELAY_TOKEN,)),
                     start_poller=False)
    dash = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    r = await dash.post("/admin/announce", headers=BEARER,
                        json={"show_id": show_id, "position": 1})
    assert r.status == 200
    url = f"/shows/{show_id}/announcements"
    public = await (await dash.get(url)).json()
    assert public["announcements"] and all("who" not in a for a in public["announcements"])
    relay = await (await dash.get(url, headers={"Authorization": f"Bearer {RELAY_TOKEN}"})).json()
    assert all("who" not in a for a in relay["announcements"])
    admin = await (await dash.get(url, headers=BEARER)).json()
    assert admin["announcements"][0]["who"] == "token"
    login = await dash.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                            allow_redirects=False)
    assert login.status == 303
    session = await (await dash.get(url)).json()
    assert session["announcements"][0]["who"] == "token"
    assert SECRET_KEY not in str(session)


# --- security headers on every response --------------------------------------------------------

@pytest.mark.parametrize("dashboard", [False, True])
async def test_security_headers_on_every_response(make_settings: Callable[..., Settings],
                                                  aiohttp_client: Any, dashboard: bool) -> None:
    settings = dashboard_settings(make_settings) if dashboard else make_settings()
    client = await aiohttp_client(create_app(settings, start_poller=False))
    responses = [
        await client.get("/no/such/page"),
        await client.get("/shows/999999"),
        await client.get("/shows/abc"),
        await client.post("/health"),  # 405
        await client.post("/admin/refresh"),  # 401
        await client.get("/health"),
        await client.get("/login"),  # the page, or 404 without the dashboard
        await client.get("/shows/1/setlist.exe"),
    ]
    for r in responses:
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (r.status, r.url)
        assert "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", "")
        assert r.headers.get("Referrer-Policy") == "no-referrer"
        assert r.headers.get("X-Frame-Options") == "DENY"
    assert {r.status for r in responses} >= {404, 400, 405, 401, 200}


@pytest.mark.parametrize(("trusted", "secure"), [(("127.0.0.1/32",), True), ((), False)])
async def test_cookie_secure_auto_believes_forwarded_proto_only_from_trusted_proxies(
        make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
        trusted: tuple[str, ...], secure: bool) -> None:
    settings = dashboard_settings(make_settings, cookie_secure="auto", trusted_proxies=trusted)
    client = await aiohttp_client(make_app(settings))
    r = await client.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                          allow_redirects=False, headers={"X-Forwarded-Proto": "https"})
    assert r.status == 303
    assert bool(r.cookies["ntr_session"]["secure"]) is secure


async def test_refusals_log_the_client_never_the_token(dash: TestClient[Any, Any],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    guess = "guessed-token-value-1234"
    await dash.post("/admin/refresh", headers={"Authorization": f"Bearer {guess}",
                                               "X-Forwarded-For": "6.6.6.6, 198.51.100.77"})
    ws = await dash.ws_connect("/ws/announce", headers={"X-Forwarded-For": "198.51.100.78"})
    await ws.send_json({"type": "subscribe", "token": guess})
    await ws.receive(timeout=5)
    await ws.close()
    await dash.post("/login", data={"username": WEB_USER, "password": guess},
                    headers={"X-Forwarded-For": "198.51.100.79"})
    text = caplog.text
    assert "198.51.100.77" in text and "198.51.100.78" in text and "198.51.100.79" in text
    assert guess not in text and "6.6.6.6" not in text


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


async def test_bidi_controls_never_reach_pages_or_exports(make_settings: Callable[..., Settings],
                                                          aiohttp_client: Any,
                                                          make_app: MakeApp) -> None:
    """A title with bidi controls (stored before ntrbot cleaned them, or by any path) is shown
    without them on the public page, in the JSON the dashboard and public page render, and
    in every setlist export."""
    from datetime import timedelta

    from ntrbot import keys
    from ntrbot.soundcloud.parse import parse_track
    from ntrbot.store.models import Track

    app = make_app(dashboard_settings(make_settings))
    client = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    evil = Track(777, "gnp.exe\u202e\u2066Live\u2069 Set\u200f", "DJ \u061cRTL\u200e",
                 "https://soundcloud.com/x/live", None, 1000, "cc\u202e-by")
    clock, now = app[keys.CLOCK], app[keys.NOW]()
    start, end = clock.week_of(now)
    await app[keys.DB].save_playlists([evil], {(start, end): [
        (777, start + timedelta(minutes=5), "like")]})
    r = await client.post("/admin/announce", headers=BEARER,
                          json={"show_id": show_id, "position": 1})
    assert r.status == 200
    pages = {path: await (await client.get(path, headers={"Accept": accept})).text()
             for path, accept in [("/", "text/html"), (f"/shows/{show_id}", "text/html"),
                                  (f"/shows/{show_id}", "application/json"),
                                  ("/playlist", "application/json")]
             + [(f"/shows/{show_id}/setlist.{fmt}", "*/*")
                for fmt in ("md", "txt", "csv", "json")]}
    for path, text in pages.items():
        assert "Live" in text or "setlist" in path, path
        assert not set(text) & set(BIDI), path
        assert "\\u202e" not in text.lower() and "\\u200f" not in text.lower(), path
    assert "gnp.exeLive Set" in pages[f"/shows/{show_id}"]
    # and what SoundCloud sends is stored clean from now on
    parsed = parse_track({"id": 5, "title": "a\u202eb\u200f", "permalink_url":
                          "https://soundcloud.com/a/b", "user": {"username": "u\u2067v"}})
    assert (parsed.title, parsed.artist) == ("ab", "uv")
