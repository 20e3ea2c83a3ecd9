"""One announcement's deliveries as they change: IRC lines, relay acks, their summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ntrbot.store.models import FINAL_STATES, Announcement, OutputDelivery

#: How long a relay that asked for acks has to ack an announce.
ACK_TIMEOUT = 10.0


class DeliveryTracker:
    """The live state of one announcement's outputs, for the follow-up task to record.

    `update` may be called from any callback; `changed` is set whenever something is left
    to record, `take` hands the changed outputs over. `primary` names the output whose
    state is the announcement's `delivery` (the first IRC channel), or None with IRC off.
    """

    def __init__(self, base: Announcement, primary: str | None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.base = base
        self.primary = primary
        self._clock = clock
        self.outputs: dict[str, OutputDelivery] = {d.output: d for d in base.deliveries}
        self.acking: set[str] = set()  # relay outputs that promised acks
        self._dirty: set[str] = set()
        self.changed = asyncio.Event()
        self.primary_final = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self.lines: list[Any] = []  # the IRC Delivery of each channel, once aired
        #: the summary state while no IRC output says it: queued (waiting for its air
        #: time), cancelled, expired; None: the first IRC output's state
        self.override: str | None = None
        self._delivered_at: datetime | None = base.delivered_at
        if primary is not None and self.outputs[primary].state == "delivered":
            self._delivered_at = self.outputs[primary].at
        if primary is None or self.outputs[primary].final:
            self.primary_final.set()

    def update(self, output: str, state: str, detail: str = "",
               at: datetime | None = None) -> None:
        old = self.outputs.get(output)
        if old is not None and (old.final or (old.state, old.detail) == (state, detail)):
            return
        self.outputs[output] = OutputDelivery(output, state, detail, at or self._clock())
        if output == self.primary:
            if state == "delivered":
                self._delivered_at = self.outputs[output].at
            if state in FINAL_STATES:
                self.primary_final.set()
        self._dirty.add(output)
        self.changed.set()

    def expect_ack(self, output: str) -> None:
        """A relay asked for acks: no ack within ACK_TIMEOUT makes it failed (no ack)."""
        self.acking.add(output)
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(
            ACK_TIMEOUT, lambda: self.update(output, "failed", "no ack")))

    def take(self) -> list[OutputDelivery]:
        changed = [self.outputs[o] for o in sorted(self._dirty)]
        self._dirty.clear()
        self.changed.clear()
        return changed

    @property
    def delivery(self) -> str:
        if self.override is not None:
            return self.override
        if self.primary is None:
            return "failed"
        return self.outputs[self.primary].state

    @property
    def settled(self) -> bool:
        """Nothing more can change: every output final, or a relay without acks `sent`."""
        return all(d.final or (d.output.startswith("relay:") and d.output not in self.acking
                               and d.state == "sent")
                   for d in self.outputs.values())

    def snapshot(self) -> Announcement:
        return replace(self.base, delivery=self.delivery, delivered_at=self._delivered_at,
                       deliveries=tuple(self.outputs.values()))

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
