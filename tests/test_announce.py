"""POST /admin/announce: auth matrix, every malformed body, 404/409, delivery, recording."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.deliveries import DeliveryState
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, BEARER, WEB_PASSWORD, WEB_USER
from tests.support.dashboard import dashboard_settings
from tests.support.fakes import FakeIrc
from tests.support.faketime import FakeTime
from tests.support.plugin import MakeApp
from tests.support.seed import TRACKS, seed_app


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
                     irc: FakeIrc) -> tuple[web.Application, TestClient[Any, Any], int, int]:
    # the answer's wait for IRC's confirmation ends at once (FakeTime auto): a test of a
    # line left queued or unconfirmed does not wait confirm_wait real seconds
    app = make_app(dashboard_settings(make_settings), irc, sleep=FakeTime(auto=True).sleep)
    client = await aiohttp_client(app)
    current, previous = await seed_app(app)
    return app, client, current, previous


async def test_announce_with_bearer(app_client: Any, irc: FakeIrc) -> None:
    app, client, show_id, _ = app_client
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    assert r.status == 200
    body = await r.json()
    expected = ("Now Playing: Song #1: Sewer Song by The Rats - "
                "https://soundcloud.com/rats/sewer-song")
    assert body["status"] == "announced"
    assert body["message"] == expected
    assert body["delivery"] == "delivered" and isinstance(body["irc"], str)
    assert body["id"] == body["announcement_id"] and body["delivered_at"]
    assert [(d["output"], d["state"]) for d in body["deliveries"]] == [
        ("irc:#sewerchat", "delivered")]
    assert body["subscribers"] == 0
    assert body["track"]["id"] == 101 and body["position"] == 1
    assert irc.said == [("#sewerchat", expected, {"priority": True, "fresh_for": 180,
                                                  "confirm": True})]
    recorded = await app[keys.DB].announcements.for_show(show_id)
    assert [(a.position, a.track_id, a.message, a.who, a.delivery) for a in recorded] == [
        (1, 101, expected, "token", "delivered")]
    assert recorded[0].announced_at.isoformat() == body["announced_at"]
    assert recorded[0].to_json()["deliveries"] == body["deliveries"]


async def test_announce_auth_matrix(app_client: Any) -> None:
    _, client, show_id, _ = app_client
    body = {"show_id": show_id, "position": 1, "force": True}
    # none
    r = await client.post("/admin/announce", json=body)
    assert r.status == 401 and "error" in await r.json()
    # wrong bearer
    for header in ("Bearer wrong", "Bearer", f"Basic {ADMIN_TOKEN}", ADMIN_TOKEN):
        r = await client.post("/admin/announce", json=body, headers={"Authorization": header})
        assert r.status == 401, header
        assert "error" in await r.json()
    # right bearer
    r = await client.post("/admin/announce", json=body, headers=BEARER)
    assert r.status == 200
    # session (same origin and without Origin)
    r = await client.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD},
                          allow_redirects=False)
    assert r.status == 303
    origin = f"http://{client.host}:{client.port}"
    r = await client.post("/admin/announce", json=body, headers={"Origin": origin})
    assert r.status == 200 and (await r.json())["who"] == f"web:{WEB_USER}"
    r = await client.post("/admin/announce", json=body)
    assert r.status == 200
    # session + wrong bearer: the wrong token wins (from another client: four wrong
    # tokens above, a fifth would throttle this one's right token too)
    r = await client.post("/admin/announce", json=body,
                          headers={"Authorization": "Bearer wrong", "Origin": origin,
                                   "X-Forwarded-For": "198.51.100.1"})
    assert r.status == 401
    # session from another site
    r = await client.post("/admin/announce", json=body,
                          headers={"Origin": "https://evil.example"})
    assert r.status == 403
    # bearer is not subject to the Origin check (not a cookie)
    r = await client.post("/admin/announce", json=body,
                          headers={**BEARER, "Origin": "https://evil.example"})
    assert r.status == 200
    # after logout the cookie no longer works
    await client.post("/logout", allow_redirects=False)
    r = await client.post("/admin/announce", json=body)
    assert r.status == 401


MALFORMED: list[tuple[str, bytes | str]] = [
    ("empty", b""),
    ("not json", b"show_id=1&position=1"),
    ("broken json", b'{"show_id": 1, "position": 1'),
    ("array", b"[1, 1]"),
    ("string", b'"hello"'),
    ("null", b"null"),
    ("number", b"42"),
    ("missing show_id", b'{"position": 1}'),
    ("missing position", b'{"show_id": 1}'),
    ("empty object", b"{}"),
    ("show_id string", b'{"show_id": "1", "position": 1}'),
    ("position string", b'{"show_id": 1, "position": "1"}'),
    ("show_id bool", b'{"show_id": true, "position": 1}'),
    ("position bool", b'{"show_id": 1, "position": true}'),
    ("position false", b'{"show_id": 1, "position": false}'),
    ("show_id float", b'{"show_id": 1.0, "position": 1}'),
    ("position float", b'{"show_id": 1, "position": 1.5}'),
    ("show_id null", b'{"show_id": null, "position": 1}'),
    ("position list", b'{"show_id": 1, "position": [1]}'),
    ("position object", b'{"show_id": 1, "position": {}}'),
    ("huge show_id", b'{"show_id": 99999999999999999999999999, "position": 1}'),
    ("huge position", b'{"show_id": 1, "position": 99999999999999999999}'),
    ("giant digits", b'{"show_id": 1, "position": ' + b"9" * 5000 + b"}"),
    ("exponent", b'{"show_id": 1, "position": 1e400}'),
    ("NaN", b'{"show_id": 1, "position": NaN}'),
    ("Infinity", b'{"show_id": 1, "position": Infinity}'),
    ("negative", b'{"show_id": 1, "position": -1}'),
    ("zero position", b'{"show_id": 1, "position": 0}'),
    ("zero show", b'{"show_id": 0, "position": 1}'),
    ("force string", b'{"show_id": 1, "position": 1, "force": "yes"}'),
    ("force int", b'{"show_id": 1, "position": 1, "force": 1}'),
    ("force null", b'{"show_id": 1, "position": 1, "force": null}'),
    ("deep nesting", b"[" * 30_000 + b"]" * 30_000),
    ("bad utf-8", b'{"show_id": 1, "position": 1, "x": "\xff\xfe"}'),
    ("utf-16 bom", '{"show_id": 1, "position": 1}'.encode("utf-16")),
]


@pytest.mark.parametrize("name,raw", MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_bodies_are_4xx_json(app_client: Any, irc: FakeIrc, name: str,
                                             raw: bytes) -> None:
    _, client, _, _ = app_client
    r = await client.post("/admin/announce", data=raw,
                          headers={**BEARER, "Content-Type": "application/json"})
    assert r.status in (400, 422), (name, r.status)
    body = await r.json()
    assert set(body) == {"error"} and body["error"]
    assert irc.said == []


async def test_oversized_body_is_413_json(app_client: Any) -> None:
    _, client, show_id, _ = app_client
    raw = b'{"show_id": %d, "position": 1, "pad": "%s"}' % (show_id, b"x" * 200_000)
    r = await client.post("/admin/announce", data=raw, headers=BEARER)
    assert 400 <= r.status < 500
    assert "error" in await r.json()


async def test_unknown_show_or_position_is_404(app_client: Any, irc: FakeIrc) -> None:
    _, client, show_id, _ = app_client
    for body in ({"show_id": 9999, "position": 1}, {"show_id": show_id, "position": 4},
                 {"show_id": show_id, "position": 2**31 - 1}, {"show_id": 2**63 - 1,
                                                              "position": 1}):
        r = await client.post("/admin/announce", json=body, headers=BEARER)
        assert r.status == 404, body
        assert "error" in await r.json()
    assert irc.said == []


async def test_reannounce_needs_force(app_client: Any, irc: FakeIrc) -> None:
    app, client, show_id, previous = app_client
    first = await client.post("/admin/announce", json={"show_id": show_id, "position": 2},
                              headers=BEARER)
    assert first.status == 200
    first_at = (await first.json())["announced_at"]
    for body in ({"show_id": show_id, "position": 2},
                 {"show_id": show_id, "position": 2, "force": False}):
        r = await client.post("/admin/announce", json=body, headers=BEARER)
        assert r.status == 409
        data = await r.json()
        assert data["announced_at"] == first_at and "error" in data
    assert len(irc.said) == 1
    r = await client.post("/admin/announce",
                          json={"show_id": show_id, "position": 2, "force": True},
                          headers=BEARER)
    assert r.status == 200
    assert len(irc.said) == 2
    # another show's position 1 and this show's position 1 are separate
    assert (await client.post("/admin/announce", json={"show_id": previous, "position": 1},
                              headers=BEARER)).status == 200
    assert (await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                              headers=BEARER)).status == 200
    assert len(await app[keys.DB].announcements.for_show(show_id)) == 3


async def test_concurrent_duplicate_announces_send_once(app_client: Any,
                                                        irc: FakeIrc) -> None:
    _, client, show_id, _ = app_client
    body = {"show_id": show_id, "position": 3}
    rs = await asyncio.gather(*(client.post("/admin/announce", json=body, headers=BEARER)
                                for _ in range(5)))
    assert sorted(r.status for r in rs) == [200, 409, 409, 409, 409]
    assert len(irc.said) == 1


async def test_control_characters_never_in_message(app_client: Any, irc: FakeIrc) -> None:
    _, client, show_id, _ = app_client
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 2},
                          headers=BEARER)
    message = (await r.json())["message"]
    assert "\r" not in message and "\n" not in message
    assert TRACKS[1].artist in message
    assert all(ord(c) >= 32 for c in irc.said[0][1])


async def test_queued_delivery_is_reported_then_resolved(app_client: Any,
                                                         irc: FakeIrc) -> None:
    app, client, show_id, _ = app_client
    events = app[keys.EVENTS].subscribe()
    irc.mode = "queued"
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    assert r.status == 200
    body = await r.json()
    assert body["delivery"] == "queued" and "queued" in body["irc"]
    [a] = await app[keys.DB].announcements.for_show(show_id)
    assert a.delivery == "queued"
    irc.pending[0].set(DeliveryState.SENT, "written")
    irc.pending[0].set(DeliveryState.DELIVERED, "echoed")
    deadline = asyncio.get_running_loop().time() + 5
    while (await app[keys.DB].announcements.for_show(show_id))[0].delivery != "delivered":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait())
    assert kinds[0]["type"] == "announcement" and kinds[0]["aired_now"] is False
    assert {e["type"] for e in kinds[1:]} == {"delivery"}
    last = kinds[-1]
    assert (last["id"], last["show_id"], last["position"], last["delivery"]) == (
        a.id, show_id, 1, "delivered")
    assert last["announcement"]["deliveries"][0]["state"] == "delivered"
    assert any(e["aired_now"] for e in kinds[1:])
    [a] = await app[keys.DB].announcements.for_show(show_id)
    assert a.delivered_at is not None and a.deliveries[0].detail == "echoed"


async def test_queued_delivery_can_expire(app_client: Any, irc: FakeIrc) -> None:
    app, client, show_id, _ = app_client
    irc.mode = "queued"
    await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                      headers=BEARER)
    irc.pending[0].set(DeliveryState.EXPIRED, "not sent while fresh")
    for _ in range(500):
        if (await app[keys.DB].announcements.for_show(show_id))[0].delivery == "expired":
            break
        await asyncio.sleep(0.01)
    assert (await app[keys.DB].announcements.for_show(show_id))[0].delivery == "expired"


@pytest.mark.parametrize("mode", ["failed", "raise", "refused"])
async def test_irc_failure_is_reported_not_5xx(app_client: Any, irc: FakeIrc,
                                               mode: str) -> None:
    app, client, show_id, _ = app_client
    irc.mode = mode
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    assert r.status == 200
    body = await r.json()
    assert body["delivery"] == "failed"
    [a] = await app[keys.DB].announcements.for_show(show_id)
    assert a.delivery == "failed"


async def test_announce_without_irc_still_reaches_hub(make_settings: Callable[..., Settings],
                                                      aiohttp_client: Any,
                                                      make_app: MakeApp) -> None:
    app = make_app(make_settings(), irc=None)
    client = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    assert r.status == 200
    assert (await r.json())["delivery"] == "failed"


async def test_custom_format(make_settings: Callable[..., Settings], aiohttp_client: Any,
                             make_app: MakeApp,
                             irc: FakeIrc) -> None:
    settings = make_settings(announce_format="#{position} {artist} – {title} ({show_id})")
    app = make_app(settings, irc)
    client = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 3},
                          headers=BEARER)
    assert (await r.json())["message"] == f"#3 Ratking – Tunnels ({show_id})"


async def test_answer_waits_for_the_confirmation_then_says_sent(app_client: Any,
                                                                irc: FakeIrc) -> None:
    """Written but unconfirmed: the answer waits (up to 2 s) and then honestly says sent;
    the confirmation that comes later is recorded."""
    app, client, show_id, _ = app_client
    irc.mode = "sent"
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    body = await r.json()
    assert body["delivery"] == "sent" and body["delivered_at"] is None
    irc.pending[0].set(DeliveryState.DELIVERED, "echoed")
    for _ in range(500):
        [a] = await app[keys.DB].announcements.for_show(show_id)
        if a.delivery == "delivered":
            break
        await asyncio.sleep(0.01)
    # (the loop above ran: range(500))
    assert a.delivery == "delivered" and a.delivered_at is not None  # type: ignore[possibly-undefined]


async def test_a_refusal_is_failed_with_the_servers_reason(app_client: Any,
                                                           irc: FakeIrc) -> None:
    _app, client, show_id, _ = app_client
    irc.mode = "refused"
    body = await (await client.post("/admin/announce",
                                    json={"show_id": show_id, "position": 1},
                                    headers=BEARER)).json()
    assert body["delivery"] == "failed"
    assert body["deliveries"][0]["detail"] == "404 Cannot send to channel"


async def test_every_announce_channel_is_an_output(make_settings: Callable[..., Settings],
                                                   aiohttp_client: Any,
                                                   make_app: MakeApp, irc: FakeIrc) -> None:
    app = make_app(make_settings(announce_channel="#sewerchat, #second"), irc)
    client = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    body = await (await client.post("/admin/announce",
                                    json={"show_id": show_id, "position": 1},
                                    headers=BEARER)).json()
    assert [d["output"] for d in body["deliveries"]] == ["irc:#sewerchat", "irc:#second"]
    assert [t for t, _, _ in irc.said] == ["#sewerchat", "#second"]


async def test_a_format_that_cannot_render_is_a_refusal_never_a_500(
        make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
        irc: FakeIrc, caplog: pytest.LogCaptureFixture) -> None:
    """Start-up refuses such a format (tests/test_config.py); should one still get through
    (set on Settings directly), the announce is refused with a 4xx naming the setting."""
    settings = dataclasses.replace(make_settings(),
                                   announce_format="{position:099999999999999999999}")
    app = make_app(settings, irc)
    client = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    assert r.status == 400
    assert "NTR_ANNOUNCE_FORMAT" in (await r.json())["error"]
    assert irc.said == [] and await app[keys.DB].announcements.for_show(show_id) == []
    assert "Traceback" not in caplog.text
