"""The /ws/public listeners: their fan-out policy and admission limits (in total, per
address), pure bookkeeping over one `fanout.Fanout` (the route is ntrbot/http/public_feed.py)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

from ntrbot.fanout import Fanout, Overflow, Policy, Socket, Subscriber

Listener = Subscriber[str]  # one public socket; its meta is the peer's address
HELLO = json.dumps({"type": "hello"})
PING = '{"type": "ping"}'
RESYNC = json.dumps({"type": "resync"})


def public_policy(queue_size: int = 64, ping_seconds: float = 25.0) -> Policy:
    """/ws/public: a full outbox becomes one "resync"; a stuck listener is closed 1013."""
    return Policy(Overflow.RESYNC, queue_size=queue_size, send_timeout=10.0,
                  slow_close=(1013, b"too slow"), resync=RESYNC, ping=(ping_seconds, PING))


class PublicFeed:
    """The open public sockets, their limits, and fan-out (`fanout.Fanout`) of public
    events to them."""

    def __init__(self, max_total: int = 1000, max_per_peer: int = 20, queue_size: int = 64,
                 ping_seconds: float = 25.0) -> None:
        self.max_total = max_total
        self.max_per_peer = max_per_peer
        self.per_peer: Counter[str] = Counter()
        self.fanout: Fanout[str] = Fanout(public_policy(queue_size, ping_seconds), "public",
                                          on_leave=self._left)

    @property
    def listeners(self) -> set[Listener]:
        return self.fanout.subscribers

    @property
    def closing(self) -> bool:
        return self.fanout.closing

    @property
    def ping_seconds(self) -> float:
        ping = self.fanout.policy.ping
        return ping[0] if ping is not None else 0.0

    @ping_seconds.setter
    def ping_seconds(self, seconds: float) -> None:
        self.fanout.policy = replace(self.fanout.policy, ping=(seconds, PING))

    def admit(self, peer: str) -> str | None:
        """Why a new socket from `peer` is refused, or None when it may open."""
        if self.closing:
            return "shutting down"
        if len(self.listeners) >= self.max_total:
            return "too many listeners"
        if self.per_peer.get(peer, 0) >= self.max_per_peer:
            return "too many sockets from this address"
        return None

    def join(self, ws: Socket, peer: str) -> Listener:
        """Add a listener (its first message is the hello) and start its sender."""
        self.per_peer[peer] += 1
        return self.fanout.join(ws, peer, first=HELLO)

    def remove(self, listener: Listener) -> None:
        self.fanout.leave(listener)

    def _left(self, listener: Listener) -> None:
        self.per_peer[listener.meta] -= 1
        if self.per_peer[listener.meta] <= 0:
            del self.per_peer[listener.meta]

    def broadcast(self, message: dict[str, Any]) -> None:
        """Queue `message` for every listener; a full outbox becomes one "resync"."""
        self.fanout.publish(message)
