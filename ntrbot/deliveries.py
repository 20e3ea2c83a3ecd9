"""Delivery states and output kinds: the one definition IRC, outputs, store and API share."""

from __future__ import annotations

from enum import StrEnum


class DeliveryState(StrEnum):
    """What became of an announce on one output (and of one IRC line); a str, so the
    database and the JSON keep the plain names."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


#: The states that never change again.
FINAL: frozenset[DeliveryState] = frozenset({
    DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.EXPIRED,
    DeliveryState.CANCELLED})


class OutputKind(StrEnum):
    """The kind of an announce output; its stored name says it (`output_kind`)."""

    IRC = "irc"          # "irc:#channel"
    RELAY = "relay"      # "relay:<name>", a /ws/announce subscriber
    DISCORD = "discord"  # "discord"
    WEBHOOK = "webhook"  # "webhook:<host[:port]>[-n]", a signed JSON webhook


def output_kind(name: str) -> OutputKind:
    """The kind of the output called `name` (the one place that reads a name's prefix)."""
    prefix = name.partition(":")[0]
    if prefix == OutputKind.IRC:
        return OutputKind.IRC
    if prefix == OutputKind.RELAY:
        return OutputKind.RELAY
    if name == OutputKind.DISCORD:
        return OutputKind.DISCORD
    return OutputKind.WEBHOOK


def output_target(name: str) -> str:
    """What an output called `name` sends to: the channel of `irc:#chan`, a relay's name."""
    return name.partition(":")[2]


def output_name(kind: OutputKind, target: str) -> str:
    """The stored name of an output of `kind` for `target` (a channel, a relay's name)."""
    return f"{kind}:{target}"
