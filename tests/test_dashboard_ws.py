"""/ws/dashboard: session-cookie only, pushes IRC/relay/poller/playlist/announce/retract events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, BEARER, WEB_PASSWORD, WEB_USER
from tests.support.dashboard import dashboard_settings
from tests.support.fakes import FakeIrc
from tests.support.plugin import MakeApp
from tests.support.seed import seed_app


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
                     irc: FakeIrc) -> tuple[web.Application, TestClient[Any, Any]]:
    app = make_app(dashboard_settings(make_settings), irc)
    client = await aiohttp_client(app)
    r = await client.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                          allow_redirects=False)
    assert r.status == 303
    return app, client


async def next_of(ws: Any, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, msg
        data: dict[str, Any] = json.loads(msg.data)
        if data["type"] == kind:
            return data


async def test_needs_a_session(make_settings: Callable[..., Settings],
                               aiohttp_client: Any, make_app: MakeApp) -> None:
    client = await aiohttp_client(make_app(dashboard_settings(make_settings), FakeIrc()))
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws/dashboard")
    assert err.value.status == 401
    # the admin token is not a way in
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws/dashboard", headers=BEARER)
    assert err.value.status == 401


async def test_cross_origin_socket_refused(app_client: Any) -> None:
    _, client = app_client
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws/dashboard", origin="http://evil.example")
    assert err.value.status == 403


async def test_hello_and_pushed_events(app_client: Any, irc: FakeIrc) -> None:
    app, client = app_client
    show_id, _ = await seed_app(app)
    origin = f"http://{client.host}:{client.port}"
    ws = await client.ws_connect("/ws/dashboard", origin=origin)
    hello = await next_of(ws, "hello")
    assert hello["user"] == WEB_USER
    assert hello["irc"]["connected"] is True and hello["subscribers"] == 0
    assert hello["relays"] == []
    assert hello["poller"]["last_error"] is None
    text = json.dumps(hello)
    assert ADMIN_TOKEN not in text and WEB_PASSWORD not in text

    # a compat relay joins: the subscriber count is pushed
    relay = await client.ws_connect("/ws/announce")
    await relay.send_json({"type": "subscribe", "token": ADMIN_TOKEN, "name": "sopel@rizon",
                           "acks": True})
    event = await next_of(ws, "subscribers")
    assert event["subscribers"] == 1
    assert event["relays"] == [{"name": "sopel@rizon", "acks": True}]
    # a page opened now learns the relays' names at once (the status bar's tooltip)
    late = await client.ws_connect("/ws/dashboard", origin=origin)
    assert (await next_of(late, "hello"))["relays"] == [{"name": "sopel@rizon", "acks": True}]
    await late.close()

    # an announce from elsewhere (bearer API, another tab, IRC) is pushed
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 2},
                          headers=BEARER)
    assert r.status == 200
    ann = (await next_of(ws, "announcement"))["announcement"]
    assert ann["show_id"] == show_id and ann["position"] == 2 and ann["who"] == "token"
    assert ann["delivery"] == "delivered"

    # IRC status changes and poller / playlist events are forwarded
    irc.connected = False
    irc.notify()
    assert (await next_of(ws, "irc"))["irc"]["connected"] is False
    app[keys.EVENTS].publish("poller", {"poller": {"last_success": None, "running": True}})
    assert (await next_of(ws, "poller"))["poller"]["running"] is True
    app[keys.EVENTS].publish("playlist", {"show_id": show_id})
    assert (await next_of(ws, "playlist"))["show_id"] == show_id
    app[keys.EVENTS].publish("internal-secret-thing", {"x": 1})
    await ws.send_json({"type": "ping"})
    assert (await ws.receive_json(timeout=5)) == {"type": "pong"}  # unknown kinds not sent


async def test_announcements_on_request_survive_restart(
        make_settings: Callable[..., Settings], aiohttp_client: Any,
        make_app: MakeApp, irc: FakeIrc) -> None:
    settings = dashboard_settings(make_settings)
    first = make_app(settings, irc)
    c1 = await aiohttp_client(first)
    show_id, previous = await seed_app(first)
    assert (await c1.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)).status == 200
    await c1.close()  # "restart": a new app on the same database file
    c2 = await aiohttp_client(make_app(settings, irc))
    await c2.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD})
    ws = await c2.ws_connect("/ws/dashboard")
    await next_of(ws, "hello")
    await ws.send_json({"type": "announcements", "show_id": show_id})
    reply = await next_of(ws, "announcements")
    assert reply["show_id"] == show_id
    assert [(a["position"], a["delivery"]) for a in reply["items"]] == [(1, "delivered")]
    await ws.send_json({"type": "announcements", "show_id": previous})
    assert (await next_of(ws, "announcements"))["items"] == []
    for bad in ({"type": "announcements", "show_id": "1"},
                {"type": "announcements", "show_id": True},
                {"type": "announcements", "show_id": 10**30}):
        await ws.send_json(bad)
        assert (await next_of(ws, "error"))["error"]
    await ws.send_str("not json")
    assert (await next_of(ws, "error"))["error"] == "not JSON"


async def test_deeply_nested_json_is_an_error_reply_not_a_dropped_socket(
        app_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """"[" * 16000 made json.loads raise RecursionError, uncaught: a traceback in the log and
    the socket gone. Now it is refused like any malformed message, and the socket stays."""
    _, client = app_client
    ws = await client.ws_connect("/ws/dashboard")
    await next_of(ws, "hello")
    for text in ("[" * 16000, "[" * 8000 + "]" * 8000, '{"a":' * 2500 + "1" + "}" * 2500):
        await ws.send_str(text)
        assert (await next_of(ws, "error"))["error"] == "not JSON"
    await ws.send_json({"type": "ping"})
    assert await next_of(ws, "pong") == {"type": "pong"}
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


async def test_logout_then_socket_refused(app_client: Any) -> None:
    _, client = app_client
    ws = await client.ws_connect("/ws/dashboard")
    await next_of(ws, "hello")
    await ws.close()
    await client.post("/logout", allow_redirects=False)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws/dashboard")


async def test_logout_closes_that_sessions_sockets(app_client: Any) -> None:
    _, client = app_client
    ws = await client.ws_connect("/ws/dashboard")
    await next_of(ws, "hello")
    r = await client.post("/logout", allow_redirects=False)
    assert r.status == 303
    msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401


async def test_retracted_and_edits_are_pushed(make_settings: Callable[..., Settings],
                                              aiohttp_client: Any,
                                              make_app: MakeApp, irc: FakeIrc) -> None:
    """Undo from one tab (cookie + Origin) reaches every dashboard socket, as do edits."""
    app = make_app(dashboard_settings(make_settings), irc)
    client = await aiohttp_client(app)
    r = await client.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                          allow_redirects=False)
    assert r.status == 303
    show_id, _ = await seed_app(app)
    origin = f"http://{client.host}:{client.port}"
    ws = await client.ws_connect("/ws/dashboard", origin=origin)
    await next_of(ws, "hello")
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 2},
                          headers={"Origin": origin})
    assert r.status == 200
    ann_id = (await r.json())["announcement_id"]
    assert (await next_of(ws, "announcement"))["announcement"]["id"] == ann_id

    # another site cannot retract with the cookie; no auth at all is 401
    r = await client.delete(f"/admin/announcements/{ann_id}",
                            headers={"Origin": "http://evil.example"})
    assert r.status == 403
    async with aiohttp.ClientSession() as anon:
        r = await anon.delete(f"{origin}/admin/announcements/{ann_id}")
        assert r.status == 401

    r = await client.delete(f"/admin/announcements/{ann_id}", headers={"Origin": origin})
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "retracted" and "cannot be unsent" in body["note"]
    event = await next_of(ws, "retracted")
    assert event == {"type": "retracted", "id": ann_id, "show_id": show_id, "position": 2}
    await ws.send_json({"type": "announcements", "show_id": show_id})
    assert (await next_of(ws, "announcements"))["items"] == []
    # a second retract of the same announce is 404: it is gone from the history
    r = await client.delete(f"/admin/announcements/{ann_id}", headers={"Origin": origin})
    assert r.status == 404

    # the host's edits through the cookie are pushed as playlist events
    r = await client.patch(f"/admin/shows/{show_id}", json={"episode": 7},
                           headers={"Origin": origin})
    assert r.status == 200 and (await r.json())["show"]["episode"] == 7
    assert (await next_of(ws, "playlist"))["show_id"] == show_id
    r = await client.patch(f"/admin/shows/{show_id}/tracks/3", json={"to": 1},
                           headers={"Origin": origin})
    assert r.status == 200
    assert (await next_of(ws, "playlist"))["show_id"] == show_id
    r = await client.delete(f"/admin/shows/{show_id}/tracks/1", headers={"Origin": origin})
    assert r.status == 200 and len((await r.json())["show"]["tracks"]) == 2
    assert (await next_of(ws, "playlist"))["show_id"] == show_id
    r = await client.patch(f"/admin/shows/{show_id}/tracks/1", json={"to": 9},
                           headers={"Origin": origin})
    assert r.status == 404 and "error" in await r.json()
