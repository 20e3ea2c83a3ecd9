"""The announce delay: airs_at, every output queued, a real cancel, order, tonight's delay.

The announcer waits by a FakeTime moved by hand (`advance`), not by real seconds; the
real-time delay end to end is tests/e2e/test_delay_restart.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, BEARER
from tests.support.dashboard import dashboard_settings
from tests.support.fakes import FakeIrc
from tests.support.faketime import FakeTime
from tests.support.plugin import MakeApp
from tests.support.seed import seed_app


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
                     irc: FakeIrc, time: FakeTime
                     ) -> tuple[web.Application, TestClient[Any, Any], int]:
    app = make_app(dashboard_settings(make_settings), irc, now=time.now, sleep=time.sleep)
    client = await aiohttp_client(app)
    current, _ = await seed_app(app)
    return app, client, current


def _real_now() -> Any:
    from datetime import UTC, datetime
    return datetime.now(UTC)


async def announce(client: TestClient[Any, Any], show_id: int, position: int,
                   **extra: Any) -> dict[str, Any]:
    r = await client.post("/admin/announce", headers=BEARER,
                          json={"show_id": show_id, "position": position, **extra})
    assert r.status == 200, await r.text()
    data: dict[str, Any] = await r.json()
    return data


async def state_of(app: web.Application, ann_id: int) -> str:
    a = await app[keys.DB].announcements.announcement(ann_id)
    assert a is not None
    return a.delivery


async def eventually(app: web.Application, ann_id: int, want: str) -> None:
    for _ in range(1000):
        if await state_of(app, ann_id) == want:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"announcement {ann_id} never became {want}")


async def test_a_delayed_announce_waits_then_airs(app_client: Any, irc: FakeIrc,
                                                  time: FakeTime) -> None:
    app, client, show_id = app_client
    body = await announce(client, show_id, 1, delay=30)
    assert body["delivery"] == "queued" and body["airs_at"]
    assert [d["state"] for d in body["deliveries"]] == ["queued"]
    await time.advance(29)
    assert irc.said == []  # nothing went out yet
    assert await state_of(app, body["id"]) == "queued"
    await time.advance(1)
    await eventually(app, body["id"], "delivered")
    assert [t for t, _, _ in irc.said] == ["#sewerchat"]


async def test_cancel_before_airs_at_sends_nothing(app_client: Any, irc: FakeIrc,
                                                   time: FakeTime) -> None:
    app, client, show_id = app_client
    relay = await client.ws_connect("/ws/announce")
    await relay.send_json({"type": "subscribe", "token": ADMIN_TOKEN, "name": "bot@net"})
    await relay.receive_json(timeout=5)  # status
    body = await announce(client, show_id, 2, delay=30)
    assert {d["output"] for d in body["deliveries"]} == {"irc:#sewerchat", "relay:bot@net"}
    r = await client.delete(f"/admin/announcements/{body['id']}", headers=BEARER)
    assert r.status == 200
    answer = await r.json()
    assert answer["status"] == "cancelled"
    assert {d["state"] for d in answer["announcement"]["deliveries"]} == {"cancelled"}
    await time.advance(60)  # past the air time
    assert irc.said == []
    with pytest.raises(asyncio.TimeoutError):
        await relay.receive_json(timeout=0.3)  # the relay got nothing
    await eventually(app, body["id"], "cancelled")
    # a cancelled announce does not count as announced: no 409
    again = await announce(client, show_id, 2)
    assert again["delivery"] == "delivered"
    await relay.close()


async def test_next_announce_airs_after_the_pending_one(app_client: Any, irc: FakeIrc,
                                                       time: FakeTime) -> None:
    app, client, show_id = app_client
    first = await announce(client, show_id, 1, delay=40)
    second = await announce(client, show_id, 2, delay=0)
    assert second["delivery"] == "queued" and second["airs_at"] >= first["airs_at"]
    await time.advance(40)
    await eventually(app, second["id"], "delivered")
    assert [text.split(":")[1] for _, text, _ in irc.said] == [" Song #1", " Song #2"]


async def test_tonights_delay_is_kept_and_used(app_client: Any, irc: FakeIrc,
                                              time: FakeTime) -> None:
    app, client, show_id = app_client
    r = await client.put("/admin/delay", headers=BEARER, json={"seconds": 30})
    assert (await r.json()) == {"seconds": 30, "default": 0.0}
    assert await app[keys.DB].get_meta("announce_delay_seconds") == "30.0"
    body = await announce(client, show_id, 3)
    assert body["delivery"] == "queued" and body["airs_at"]
    now = await announce(client, show_id, 1, delay=0)  # one announce's own delay
    assert now["airs_at"] >= body["airs_at"]  # still in order behind the pending one
    await time.advance(30)
    await eventually(app, now["id"], "delivered")
    r = await client.put("/admin/delay", headers=BEARER, json={"seconds": None})
    assert (await r.json())["seconds"] == 0.0
    for bad in ({"seconds": -1}, {"seconds": 601}, {"seconds": "5"}, {}):
        r = await client.put("/admin/delay", headers=BEARER, json=bad)
        assert r.status == 422, bad
    assert (await client.get("/admin/delay")).status == 401


@pytest.mark.parametrize("delay", [-1, 601, "5", True])
async def test_bad_delay_is_422(app_client: Any, delay: Any) -> None:
    _app, client, show_id = app_client
    r = await client.post("/admin/announce", headers=BEARER,
                          json={"show_id": show_id, "position": 1, "delay": delay})
    assert r.status == 422 and "delay" in (await r.json())["error"]


async def test_an_ack_for_an_announce_the_relay_never_got_is_ignored(app_client: Any,
                                                                    irc: FakeIrc) -> None:
    app, client, show_id = app_client
    relay = await client.ws_connect("/ws/announce")
    await relay.send_json({"type": "subscribe", "token": ADMIN_TOKEN, "name": "evil",
                           "acks": True})
    await relay.receive_json(timeout=5)  # status
    body = await announce(client, show_id, 3, delay=5)
    await relay.send_json({"type": "ack", "id": body["id"], "ok": True})  # forged, early
    await asyncio.sleep(0.2)
    r = await client.delete(f"/admin/announcements/{body['id']}", headers=BEARER)
    answer = await r.json()
    assert {d["state"] for d in answer["announcement"]["deliveries"]} == {"cancelled"}
    await eventually(app, body["id"], "cancelled")
    ann = await app[keys.DB].announcements.announcement(body["id"])
    assert ann is not None and not ann.aired
    # and a second DELETE says so, truthfully
    again = await (await client.delete(f"/admin/announcements/{body['id']}",
                                       headers=BEARER)).json()
    assert again["status"] == "cancelled" and "nothing was sent" in again["note"]
    await relay.close()


async def test_relay_only_announces_air_for_listeners(make_settings: Callable[..., Settings],
                                                      aiohttp_client: Any,
                                                      make_app: MakeApp) -> None:
    app = make_app(dashboard_settings(make_settings), None, now=_real_now)  # IRC off
    client = await aiohttp_client(app)
    show_id, _ = await seed_app(app)
    relay = await client.ws_connect("/ws/announce")
    await relay.send_json({"type": "subscribe", "token": ADMIN_TOKEN})  # an older plugin
    await relay.receive_json(timeout=5)
    body = await announce(client, show_id, 1)
    assert [(d["output"], d["state"]) for d in body["deliveries"]] == [("relay:relay-1", "sent")]
    ann = await app[keys.DB].announcements.announcement(body["id"])
    assert ann is not None and ann.aired  # the relay is the only word there is
    now = await (await client.get("/nowplaying")).json()
    assert now["track"]["position"] == 1
    await relay.close()
