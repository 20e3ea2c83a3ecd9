"""The public playlist page: content negotiation, live socket, and nothing admin in it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.http.headers import SECURITY_HEADERS
from ntrbot.http.public import PAGE_HEADERS
from ntrbot.keys import FEED
from ntrbot.listeners import Listener, PublicFeed
from ntrbot.settings import Settings
from ntrbot.store.models import Track
from tests.support.constants import (
    ADMIN_TOKEN,
    BEARER,
    SECRET_KEY,
    SHOW_START,
    WEB_PASSWORD,
    WEB_USER,
)
from tests.support.seed import seed_songs

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Clock:
    def __init__(self) -> None:
        self.now = SHOW_START + timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock_now() -> Clock:
    return Clock()


@pytest.fixture(params=["plain", "dashboard"])
async def client(request: pytest.FixtureRequest, make_settings: Callable[..., Settings],
                 aiohttp_client: Any, clock_now: Clock) -> Any:
    """The app, with and without the dashboard mounted (the page needs neither)."""
    extra = ({"web_user": WEB_USER, "web_password": WEB_PASSWORD, "secret_key": SECRET_KEY,
              "cookie_secure": "false"} if request.param == "dashboard" else {})
    app = create_app(make_settings(**extra), now=clock_now, start_poller=False)
    c = await aiohttp_client(app)
    await seed_songs(app)
    return c


async def ids(client: Any) -> tuple[int, int]:
    """(current show id, previous show id)."""
    body = await (await client.get("/shows")).json()
    current, previous = body["shows"][:2]
    return current["id"], previous["id"]


async def announce(client: Any, show_id: int, position: int, force: bool = False) -> Any:
    resp = await client.post("/admin/announce", headers=BEARER,
                             json={"show_id": show_id, "position": position, "force": force})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def playing(page: str) -> list[str]:
    return re.findall(r'<li class="[^"]*\bplaying\b[^"]*" id="track-(\d+)"', page)


# --- pages -------------------------------------------------------------------------------

async def test_index_is_the_live_page(client: Any) -> None:
    current, previous = await ids(client)
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    for name, value in SECURITY_HEADERS.items():  # the CSP also allows SoundCloud artwork
        assert resp.headers[name] == PAGE_HEADERS.get(name, value)
    page = await resp.text()
    assert 'data-mode="current"' in page and f'data-show-id="{current}"' in page
    assert all(f"Song {i}" in page for i in (1, 2, 3))
    assert f'href="/shows/{previous}"' in page  # past shows are linked
    for fmt in ("md", "txt", "csv", "json"):
        assert f'href="/shows/{current}/setlist.{fmt}"' in page
    assert '<script src="/public/public.js"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page, re.I)  # no inline handlers


@pytest.mark.parametrize(("accept", "kind"), [
    (None, "json"),
    ("*/*", "json"),
    ("application/json", "json"),
    ("application/json, text/html", "json"),  # a tie keeps JSON
    ("text/html;q=0.5, application/json", "json"),
    ("text/html;q=0.5, */*", "json"),
    ("text/html;q=nonsense", "json"),
    ("text/html;q=nan", "json"),
    ("text/html;q=1.5, application/json;q=0.9", "json"),
    ("text/html", "html"),
    (BROWSER_ACCEPT, "html"),
    ("application/json;q=0.4, text/html", "html"),
    ("text/*", "html"),
])
async def test_show_content_negotiation(client: Any, accept: str | None, kind: str) -> None:
    current, _ = await ids(client)
    headers = {"Accept": accept} if accept is not None else {}
    resp = await client.get(f"/shows/{current}", headers=headers)
    assert resp.status == 200
    assert "Accept" in resp.headers.get("Vary", "")
    if kind == "json":
        assert resp.content_type == "application/json"
        body = await resp.json()
        assert body["id"] == current and [t["position"] for t in body["tracks"]] == [1, 2, 3]
    else:
        assert resp.content_type == "text/html"
        page = await resp.text()
        assert 'data-mode="show"' in page and "Song 2" in page
        assert resp.headers["Content-Security-Policy"] == PAGE_HEADERS[
            "Content-Security-Policy"]


async def test_errors_stay_json_for_browsers(client: Any) -> None:
    for path in ("/shows/999", "/shows/abc", "/public/nope.js", "/public/dashboard.js",
                 "/public/../ntrbot/config.py", "/public/%2e%2e/pyproject.toml", "/?offset=x"):
        resp = await client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert 400 <= resp.status < 500, path
        assert "error" in await resp.json(), path


async def test_past_show_page_with_episode(client: Any) -> None:
    _, previous = await ids(client)
    resp = await client.patch(f"/admin/shows/{previous}", headers=BEARER, json={"episode": 41})
    assert resp.status == 200
    page = await (await client.get(f"/shows/{previous}", headers={"Accept": "text/html"})).text()
    assert '<h1 id="show-title">NtR Episode 41</h1>' in page
    assert "Past show" in page and "Song 4" in page and "Song 1" not in page
    assert 'href="/"' in page
    index = await (await client.get("/")).text()
    assert f'<a href="/shows/{previous}">Episode 41</a>' in index
    assert "<title>NtR Episode" not in index  # the current show has no number yet


async def test_past_shows_are_paged(client: Any) -> None:
    db, clock = client.app[keys.DB], client.app[keys.CLOCK]
    current, previous = await ids(client)
    week = clock.week_of(client.app[keys.NOW]())
    for _ in range(25):
        week = clock.previous_week(week[0])
        await db.ensure_show(*week)
    page = await (await client.get("/")).text()
    links = re.findall(r'<a href="/shows/(\d+)"', page)
    assert len(links) == 20 and str(current) not in links and links[0] == str(previous)
    assert 'href="/?offset=20#past"' in page
    older = await (await client.get("/?offset=20")).text()
    rest = re.findall(r'<a href="/shows/(\d+)"', older)
    assert len(rest) == 5 and not set(rest) & set(links) and "Older shows" not in older
    assert (await client.get("/?offset=99999")).status == 400


async def test_now_playing_is_the_last_announce_not_retracted(client: Any,
                                                              clock_now: Clock) -> None:
    current, _ = await ids(client)
    assert playing(await (await client.get("/")).text()) == []
    await announce(client, current, 2)
    clock_now.now += timedelta(minutes=4)
    second = await announce(client, current, 1)
    page = await (await client.get("/")).text()
    assert playing(page) == ["1"]
    assert 'id="now-pos">#1<' in page and "played +0:05" in page and "played +0:09" in page
    resp = await client.delete(f"/admin/announcements/{second['announcement_id']}", headers=BEARER)
    assert resp.status == 200
    page = await (await client.get("/")).text()
    assert playing(page) == ["2"] and "played +0:09" not in page


async def test_titles_are_escaped_and_never_expanded(client: Any) -> None:
    db = client.app[keys.DB]
    current, _ = await ids(client)
    await db.add_track(current, Track(99, "<script>x</script>{{PAST}}", "A&B",
                                      "javascript:alert(1)"), client.app[keys.NOW]())
    page = await (await client.get("/")).text()
    assert "&lt;script&gt;x&lt;/script&gt;{{PAST}}" in page and "A&amp;B" in page
    assert "javascript:" not in page


# --- nothing admin, nothing secret ---------------------------------------------------------

FORBIDDEN_TAGS = ("<form", "<input", "<button", "<textarea", "<select", "<dialog")


async def test_public_pages_expose_no_admin_controls_or_tokens(client: Any) -> None:
    current, previous = await ids(client)
    await announce(client, current, 1)
    pages = {
        "/": await (await client.get("/")).text(),
        f"/shows/{current}": await (await client.get(
            f"/shows/{current}", headers={"Accept": BROWSER_ACCEPT})).text(),
        f"/shows/{previous}": await (await client.get(
            f"/shows/{previous}", headers={"Accept": "text/html"})).text(),
    }
    served = dict(pages)
    for page in pages.values():
        for ref in re.findall(r'(?:src|href)="(/public/[^"]+)"', page):
            resp = await client.get(ref)
            assert resp.status == 200, ref
            served[ref] = await resp.text()
    assert {"/public/public.js", "/public/public.css"} <= set(served)
    for path, text in served.items():
        assert ADMIN_TOKEN not in text, path
        assert "Bearer" not in text, path
        if path.endswith(".css") and not path.endswith("public.css"):
            continue  # shared stylesheets: the token check is what matters there
        assert "admin" not in text.lower(), path
        assert "ntr_session" not in text and "/login" not in text and "/dashboard" not in text
        for tag in FORBIDDEN_TAGS:
            assert tag not in text.lower(), (path, tag)
    script = served["/public/public.js"]
    for needle in ("POST", "DELETE", "PATCH", "Authorization", "/ws/announce", "innerHTML"):
        assert needle not in script, needle


# --- the socket ------------------------------------------------------------------------

async def receive(ws: Any, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next message of type `kind` (pings and others skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        assert msg.type == WSMsgType.TEXT, msg
        data: dict[str, Any] = msg.json()
        if data["type"] == kind:
            return data


async def test_socket_pushes_announce_retract_and_playlist(client: Any) -> None:
    current, _ = await ids(client)
    async with client.ws_connect("/ws/public") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        result = await announce(client, current, 2)
        msg = await receive(ws, "announce")
        assert msg["show_id"] == current and msg["position"] == 2
        assert msg["track"]["title"] == "Song 2" and msg["id"] == result["announcement_id"]
        assert msg["announced_at"] == result["announced_at"]
        assert not {"who", "message", "delivery", "irc"} & set(msg)
        raw = str(msg)
        assert ADMIN_TOKEN not in raw and "token" not in raw

        await announce(client, current, 3)
        third = await receive(ws, "announce")
        resp = await client.delete(f"/admin/announcements/{third['id']}", headers=BEARER)
        assert resp.status == 200
        msg = await receive(ws, "retracted")
        assert msg == {"type": "retracted", "id": third["id"], "show_id": current,
                       "position": 3, "now_playing": 2}

        resp = await client.patch(f"/admin/shows/{current}/tracks/3", headers=BEARER,
                                  json={"to": 1})
        assert resp.status == 200
        assert await receive(ws, "playlist") == {"type": "playlist", "show_id": current}
        client.app[keys.EVENTS].publish("playlist", {"show_id": current})  # as a poll does
        assert await receive(ws, "playlist") == {"type": "playlist", "show_id": current}
        client.app[keys.EVENTS].publish("poller", {"poller": {"secret": "x"}})
        client.app[keys.EVENTS].publish("delivery", {"id": 1, "delivery": "sent"})
        client.app[keys.EVENTS].publish("playlist", {"show_id": current})
        nxt = await ws.receive_json(timeout=5)
        assert nxt["type"] == "playlist"  # poller/delivery events are not public


async def test_socket_ignores_what_clients_send(client: Any) -> None:
    current, _ = await ids(client)
    async with client.ws_connect("/ws/public") as ws:
        await ws.receive_json(timeout=5)
        await ws.send_str("not json {")
        await ws.send_str('{"type": "subscribe", "token": "x"}')
        await ws.send_bytes(b"\x00\xff\xfe")
        await ws.send_str("[]" * 10)
        await announce(client, current, 1)
        assert (await receive(ws, "announce"))["position"] == 1
        # a frame over the size limit closes only that socket
        await ws.send_str("x" * 100_000)
        msg = await ws.receive(timeout=5)
        while msg.type == WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
    async with client.ws_connect("/ws/public") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
    assert (await client.get("/health")).status == 200


async def test_socket_connections_are_capped(client: Any) -> None:
    feed = client.app[FEED]
    feed.max_per_peer = 2
    a = await client.ws_connect("/ws/public")
    b = await client.ws_connect("/ws/public")
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws/public")
    assert info.value.status == 429
    resp = await client.get("/ws/public", headers={"Connection": "Upgrade",
                                                   "Upgrade": "websocket",
                                                   "Sec-WebSocket-Version": "13",
                                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 429 and "error" in await resp.json()
    assert len(feed.listeners) == 2
    await a.close()
    for _ in range(50):
        if len(feed.listeners) < 2:
            break
        await asyncio.sleep(0.02)
    c = await client.ws_connect("/ws/public")
    await c.close()
    await b.close()
    for _ in range(50):
        if not feed.listeners:
            break
        await asyncio.sleep(0.02)
    assert feed.listeners == set() and feed.per_peer == {}


async def test_idle_socket_is_pinged_and_a_stuck_one_closed(client: Any) -> None:
    feed = client.app[FEED]
    feed.ping_seconds = 0.2
    async with client.ws_connect("/ws/public") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        assert (await ws.receive_json(timeout=5))["type"] == "ping"
        (listener,) = feed.listeners

        async def stuck(_: str) -> None:
            raise ConnectionResetError("peer gone")

        listener.ws.send_str = stuck
        feed.broadcast({"type": "playlist", "show_id": 1})
        msg = await ws.receive(timeout=5)
        while msg.type == WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.CLOSE and msg.data == 1013
    for _ in range(50):
        if not feed.listeners:
            break
        await asyncio.sleep(0.02)
    assert not feed.listeners and not feed.per_peer


async def test_slow_listener_gets_a_resync_not_unbounded_memory() -> None:
    class StuckWs:  # its first send (the hello) never finishes
        closed = False

        async def send_str(self, data: str) -> None:
            await asyncio.Event().wait()

    feed = PublicFeed(queue_size=3)
    listener: Listener = feed.join(StuckWs(), "p")  # type: ignore[arg-type]
    await asyncio.sleep(0)
    for i in range(10):
        feed.broadcast({"type": "playlist", "show_id": i})
    assert len(listener.outbox) <= 3
    assert '"resync"' in listener.outbox[0]
    feed.remove(listener)
    assert not feed.listeners and not feed.per_peer


async def test_shutdown_closes_public_sockets_quickly(make_settings: Callable[..., Settings],
                                                      clock_now: Clock) -> None:
    app = create_app(make_settings(), now=clock_now, start_poller=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        sockets = [await client.ws_connect("/ws/public") for _ in range(3)]
        for ws in sockets:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
    finally:
        started = time.monotonic()
        await client.close()
        assert time.monotonic() - started < 10
    for ws in sockets:
        msg = await ws.receive(timeout=5)
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.closed
