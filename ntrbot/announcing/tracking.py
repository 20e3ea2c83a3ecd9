"""One announcement's deliveries as they change, output by output, and their summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from ntrbot.deliveries import FINAL, DeliveryState, OutputKind
from ntrbot.store.models import Announcement, OutputDelivery


class DeliveryTracker:
    """The live state of one announcement's outputs, for the follow-up task to record.

    `update` may be called from any callback; `changed` is set whenever something is left
    to record, `take` hands the changed outputs over. `primary` names the output whose
    state is the announcement's `delivery` (the first IRC channel), or None with IRC off.
    `settles(d)` says whether a `sent` is the last word of delivery `d` (its output's rule).
    """

    def __init__(self, base: Announcement, *,
                 settles: Callable[[OutputDelivery], bool] = lambda d: False,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.base = base
        self.primary = next((d.output for d in base.deliveries if d.kind is OutputKind.IRC),
                            None)
        self._settles = settles
        self._clock = clock
        self.outputs: dict[str, OutputDelivery] = {d.output: d for d in base.deliveries}
        self._dirty: set[str] = set()
        self.changed = asyncio.Event()
        self.primary_final = asyncio.Event()
        #: the summary state while no IRC output says it: queued (waiting for its air
        #: time), cancelled, expired; None: the first IRC output's state
        self.override: DeliveryState | None = None
        self._delivered_at: datetime | None = base.delivered_at
        primary = self.outputs[self.primary] if self.primary is not None else None
        if primary is not None and primary.state == DeliveryState.DELIVERED:
            self._delivered_at = primary.at
        if primary is None or primary.final:
            self.primary_final.set()

    def update(self, output: str, state: DeliveryState, detail: str = "",
               at: datetime | None = None) -> None:
        old = self.outputs.get(output)
        if old is not None and (old.final or (old.state, old.detail) == (state, detail)):
            return
        self.outputs[output] = OutputDelivery(output, state, detail, at or self._clock())
        if output == self.primary:
            if state == DeliveryState.DELIVERED:
                self._delivered_at = self.outputs[output].at
            if state in FINAL:
                self.primary_final.set()
        self._dirty.add(output)
        self.changed.set()

    def update_all(self, state: DeliveryState, detail: str) -> None:
        """Every output, and the summary, to `state` (cancelled, expired)."""
        self.override = state
        for name in list(self.outputs):
            self.update(name, state, detail)

    def take(self) -> list[OutputDelivery]:
        changed = [self.outputs[o] for o in sorted(self._dirty)]
        self._dirty.clear()
        self.changed.clear()
        return changed

    @property
    def delivery(self) -> DeliveryState:
        if self.override is not None:
            return self.override
        if self.primary is None:
            return DeliveryState.FAILED
        return self.outputs[self.primary].state

    @property
    def settled(self) -> bool:
        """Nothing more can change: every output final, or `sent` as its last word."""
        return all(d.final or (d.state == DeliveryState.SENT and self._settles(d))
                   for d in self.outputs.values())

    def snapshot(self) -> Announcement:
        return replace(self.base, delivery=self.delivery, delivered_at=self._delivered_at,
                       deliveries=tuple(self.outputs.values()))
