"""The /ws/announce relays (compat plugins) as an announce output, with their acks."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from ntrbot.announcing.outputs import Airing, Update
from ntrbot.deliveries import DeliveryState, OutputKind, output_kind, output_name

if TYPE_CHECKING:
    from ntrbot.store.models import OutputDelivery

#: How long a relay that asked for acks has to ack an announce.
ACK_TIMEOUT = 10.0
ACK_WAIT = "sent to the relay; waiting for its ack"


class RelayLink(Protocol):
    """What the relays are reached over (the /ws/announce hub)."""

    def relays(self) -> list[dict[str, Any]]:
        """The subscribed relays: {"name", "acks"} each, by name."""
        ...

    def relay(self, message: dict[str, Any]) -> list[tuple[str, bool]]:
        """Queue `message` for every relay; (name, wants acks) of each it reached."""
        ...


class RelayOutputs:
    """Every relay subscribed when an announce airs: `relay:<name>`.

    A relay is `sent` once the announce is queued for it; one that asked for acks is then
    `delivered` or `failed` by its ack (`ack`, called by the hub), or `failed` (no ack)
    after ACK_TIMEOUT. A relay that does not ack stays `sent`: that is its last word.
    """

    kinds: tuple[OutputKind, ...] = (OutputKind.RELAY,)

    def __init__(self, link: RelayLink, *, ack_timeout: float = ACK_TIMEOUT) -> None:
        self.link = link
        self.ack_timeout = ack_timeout
        #: (announcement id, output) -> its update and its no-ack timer, while it may ack
        self._acks: dict[tuple[int, str], tuple[Update, asyncio.TimerHandle]] = {}

    @property
    def names(self) -> list[str]:
        return [output_name(OutputKind.RELAY, r["name"]) for r in self.link.relays()]

    async def start(self, airing: Airing, update: Update) -> None:
        reached = set()
        loop = asyncio.get_running_loop()
        for relay, acks in self.link.relay(airing.message):
            name = output_name(OutputKind.RELAY, relay)
            reached.add(name)
            update(name, DeliveryState.SENT, ACK_WAIT if acks
                   else "sent to the relay (it does not ack)")
            if acks:
                key = (airing.id, name)
                self._acks[key] = (update, loop.call_later(
                    self.ack_timeout, self._ended, key, DeliveryState.FAILED, "no ack"))
        for name in airing.recorded:
            if output_kind(name) is OutputKind.RELAY and name not in reached:
                update(name, DeliveryState.FAILED, "the relay was gone at air time")

    def ack(self, relay: str, announcement_id: int, ok: bool, detail: str) -> None:
        """A relay's ack: only for an announce it got and was asked to ack, once."""
        if ok:
            self._ended((announcement_id, output_name(OutputKind.RELAY, relay)),
                        DeliveryState.DELIVERED, detail or "posted by the relay")
        else:
            self._ended((announcement_id, output_name(OutputKind.RELAY, relay)),
                        DeliveryState.FAILED, detail or "the relay could not post it")

    def _ended(self, key: tuple[int, str], state: DeliveryState, detail: str) -> None:
        waiting = self._acks.pop(key, None)
        if waiting is not None:
            waiting[1].cancel()
            waiting[0](key[1], state, detail)

    def settles_when_sent(self, delivery: OutputDelivery) -> bool:
        return delivery.detail != ACK_WAIT

    def cut_off(self, delivery: OutputDelivery) -> tuple[DeliveryState, str] | None:
        if delivery.state == DeliveryState.SENT and self.settles_when_sent(delivery):
            return None
        return DeliveryState.FAILED, "no ack"

    def close(self) -> None:
        """Stop waiting for acks (shutdown): a stop records them `failed` (no ack)."""
        for _, timer in self._acks.values():
            timer.cancel()
        self._acks.clear()
