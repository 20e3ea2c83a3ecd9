"""RelayHub without a web server: names, status, pings, acks, the unsubscribed-socket cap."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ntrbot.announcing.outputs import Airing
from ntrbot.announcing.outputs.relay_hub import RelayHub
from ntrbot.deliveries import DeliveryState
from ntrbot.events import EventBus


class _Ws:
    """A socket double that records what it was sent."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[Any] = []

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, **kw: Any) -> bool:
        self.closed = True
        return True


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_names_are_unique_and_everyone_gets_the_latest_count() -> None:
    events = EventBus()
    queue = events.subscribe()
    hub = RelayHub(events=events)
    a, b, c = _Ws(), _Ws(), _Ws()
    hub.join(a, None, "10.0.0.1", {"name": "bot@net"})
    hub.join(b, None, "10.0.0.2", {"name": "bot@net", "acks": True})
    hub.join(c, None, "10.0.0.3", {"name": "  \x00 "})
    await _settle()
    assert hub.relays() == [{"name": "bot@net", "acks": False},
                            {"name": "bot@net-2", "acks": True},
                            {"name": "relay-1", "acks": False}]
    assert a.sent[-1] == b.sent[-1] == c.sent[-1] == {"type": "status", "subscribers": 3}
    last = None
    while not queue.empty():
        last = queue.get_nowait()
    assert last is not None and last["subscribers"] == 3 and len(last["relays"]) == 3


async def test_ping_is_answered_and_leaving_updates_the_count() -> None:
    hub = RelayHub()
    a, b = _Ws(), _Ws()
    link = hub.join(a, None, "10.0.0.1", {})
    other = hub.join(b, None, "10.0.0.2", {})
    hub.received(link, {"type": "ping"})
    hub.received(link, {"type": "whatever"})
    await _settle()
    assert a.sent[-1] == {"type": "pong"}
    hub.leave(other)
    hub.leave(other)  # twice is once
    await _settle()
    assert hub.subscribers == 1 and a.sent[-1] == {"type": "status", "subscribers": 1}


async def test_an_ack_reaches_the_relay_output_once() -> None:
    hub = RelayHub()
    ws = _Ws()
    link = hub.join(ws, None, "10.0.0.1", {"name": "bot", "acks": True})
    updates: list[tuple[str, DeliveryState, str]] = []
    await hub.outputs.start(Airing(7, "line", {"type": "announce", "id": 7}, 60.0),
                            lambda name, state, detail="", at=None:
                            updates.append((name, state, detail)))
    hub.received(link, {"type": "ack", "id": 7, "ok": "yes"})  # not a bool: ignored
    hub.received(link, {"type": "ack", "id": 7, "ok": True, "detail": " posted\n in #ch "})
    hub.received(link, {"type": "ack", "id": 7, "ok": False})  # only once
    assert [u[1] for u in updates] == [DeliveryState.SENT, DeliveryState.DELIVERED]
    assert updates[-1] == ("relay:bot", DeliveryState.DELIVERED, "posted in #ch")
    await hub.close()


async def test_an_ack_detail_is_cleaned_like_every_text_that_reaches_a_page() -> None:
    """A relay's ack detail is shown on the dashboard: no control, colour or bidi characters
    (it was only whitespace-collapsed)."""
    hub = RelayHub()
    link = hub.join(_Ws(), None, "10.0.0.1", {"name": "bot", "acks": True})
    updates: list[str] = []
    await hub.outputs.start(Airing(8, "line", {"type": "announce", "id": 8}, 60.0),
                            lambda name, state, detail="", at=None: updates.append(detail))
    hub.received(link, {"type": "ack", "id": 8, "ok": False,
                        "detail": "\u202enot \x03" + "4red\x00 \u2066posted"})
    assert updates[-1] == "not red posted"
    await hub.close()


async def test_unsubscribed_sockets_are_capped_per_client() -> None:
    hub = RelayHub(max_pending=2)
    assert hub.admit("a") and hub.admit("a")
    assert not hub.admit("a") and hub.admit("b")
    hub.release("a")
    assert hub.admit("a")


async def test_close_ends_subscribed_and_unsubscribed_sockets() -> None:
    hub = RelayHub()
    joined, waiting = _Ws(), _Ws()
    hub.join(joined, None, "10.0.0.1", {})
    with hub.subscribing(waiting):
        await hub.close()
    assert hub.closing and joined.closed and waiting.closed and hub.subscribers == 0
