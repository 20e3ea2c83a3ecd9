"""The one IRC interface the rest of ntrbot uses; `IrcClient` and `DisabledIrc` implement it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ntrbot.irc.delivery import Delivery

if TYPE_CHECKING:
    from ntrbot.irc.commands import CommandHandler

#: keys /health shows only while IRC is on (the link's own details)
_LINK_ONLY = ("tls", "sts", "join_refusals", "join_refusal_counts", "unconfirmed")


@dataclass(frozen=True)
class IrcStatus:
    """A snapshot of the IRC link; `to_json()` is /health's `irc` object."""

    enabled: bool
    connected: bool = False
    server: str | None = None  # "host:port"
    nick: str | None = None
    channels: tuple[str, ...] = ()  # joined, sorted
    last_error: str | None = None
    queued: int = 0
    caps: tuple[str, ...] = ()  # enabled on this connection, sorted
    reconnects: int = 0
    reconnects_by_reason: Mapping[str, int] = field(default_factory=dict)
    last_disconnect_reason: str | None = None
    tls: bool = False
    sts: Mapping[str, Any] | None = None  # the STS policy in force
    join_refusals: tuple[Mapping[str, Any], ...] = ()
    join_refusal_counts: Mapping[str, int] = field(default_factory=dict)
    unconfirmed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON object, in /health's key order (without the link details when off)."""
        out = {
            "enabled": self.enabled, "connected": self.connected, "server": self.server,
            "tls": self.tls, "sts": None if self.sts is None else dict(self.sts),
            "nick": self.nick, "channels": list(self.channels),
            "join_refusals": [dict(r) for r in self.join_refusals],
            "join_refusal_counts": dict(self.join_refusal_counts),
            "last_error": self.last_error, "queued": self.queued,
            "unconfirmed": self.unconfirmed, "caps": list(self.caps),
            "reconnects": self.reconnects,
            "reconnects_by_reason": dict(self.reconnects_by_reason),
            "last_disconnect_reason": self.last_disconnect_reason,
        }
        if not self.enabled:
            for key in _LINK_ONLY:
                del out[key]
        return out


StatusListener = Callable[[IrcStatus], None]


class IrcBackend(Protocol):
    """What lives at app[keys.IRC]: the IRC client, or its stand-in when IRC is off."""

    def set_commands(self, commands: CommandHandler) -> None:
        """Answer channel commands (`!np` ...) with `commands`; set before `start`."""
        ...

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        ...

    async def stop(self, message: str = ...) -> None:
        """Quit and stop; lines not yet sent end failed."""
        ...

    async def say(self, target: str, text: str, *, priority: bool = ...,
                  fresh_for: float | None = ..., confirm: bool = ...) -> Delivery:
        """Send one line to `target`; the Delivery follows what becomes of it."""
        ...

    def status(self) -> IrcStatus:
        """The connection state now (`enabled`, `connected`, `nick`, `channels` ...)."""
        ...

    def add_listener(self, cb: StatusListener) -> None:
        """`cb(status())` on every connection state change."""
        ...
