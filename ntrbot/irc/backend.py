"""The one IRC interface the rest of ntrbot uses; `IrcClient` and `DisabledIrc` implement it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ntrbot.irc.delivery import Delivery

if TYPE_CHECKING:
    from ntrbot.irc.commands import CommandHandler

StatusListener = Callable[[dict[str, Any]], None]


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

    def status(self) -> dict[str, Any]:
        """JSON-able connection state (`enabled`, `connected`, `nick`, `channels` ...)."""
        ...

    def add_listener(self, cb: StatusListener) -> None:
        """`cb(status())` on every connection state change."""
        ...
