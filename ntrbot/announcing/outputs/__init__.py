"""The announce outputs: IRC channels, relays and webhooks behind one `Output` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ntrbot.deliveries import DeliveryState, OutputKind
from ntrbot.store.models import OutputDelivery

__all__ = ["Airing", "Output", "Update", "stopped"]


@dataclass(frozen=True)
class Airing:
    """One announce going out now: its line (IRC, Discord), its JSON message (relays,
    signed webhooks), how long it stays fresh, and the outputs it was recorded with."""

    id: int
    line: str
    message: dict[str, Any]
    fresh_for: float
    recorded: tuple[str, ...] = ()


class Update(Protocol):
    """How an output reports what became of one announce on one of its outputs."""

    def __call__(self, output: str, state: DeliveryState, detail: str = "",
                 at: datetime | None = None) -> None: ...


class Output(Protocol):
    """A kind of announce output (each may hold several: channels, relays, webhooks)."""

    #: the kinds of the outputs it sends to (their deliveries' `kind`)
    kinds: tuple[OutputKind, ...]

    @property
    def names(self) -> list[str]:
        """Its output names for an announce made now, in order."""
        ...

    async def start(self, airing: Airing, update: Update) -> None:
        """Send `airing` to each of its outputs; `update` follows each from then on.
        Never waits for an answer (a slow output delays no other)."""
        ...

    def settles_when_sent(self, delivery: OutputDelivery) -> bool:
        """Whether a `sent` is the last word `delivery` will ever have."""
        ...

    def cut_off(self, delivery: OutputDelivery) -> tuple[DeliveryState, str] | None:
        """What a not yet final delivery becomes when ntrbot stopped before it ended
        (None: it stays as it is)."""
        ...


def stopped(delivery: OutputDelivery) -> tuple[DeliveryState, str]:
    """The truth about a delivery a stop cut off: `failed` once sent, else `expired`."""
    if delivery.state == DeliveryState.SENT:
        return DeliveryState.FAILED, ("not confirmed: ntrbot stopped before the "
                                      "confirmation came")
    return DeliveryState.EXPIRED, "not sent: ntrbot stopped before it went out"
