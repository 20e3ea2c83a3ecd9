"""The IRC stand-in when NTR_IRC_SERVER is unset: every line fails as "IRC is off"."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ntrbot.config import Settings
from ntrbot.irc.delivery import Delivery, finished
from ntrbot.text import clean

if TYPE_CHECKING:
    from ntrbot.irc.commands import CommandHandler


class DisabledIrc:
    """Stands in for IrcClient when NTR_IRC_SERVER is unset."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def set_commands(self, commands: CommandHandler) -> None:
        return None  # nobody to answer

    async def start(self) -> None:
        return None

    async def stop(self, message: str = "ntrbot shutting down") -> None:
        return None

    async def say(self, target: str, text: str, *, priority: bool = False,
                  fresh_for: float | None = None, confirm: bool = False) -> Delivery:
        return finished(target, clean(text), "failed", "IRC is off")

    def status(self) -> dict[str, Any]:
        return {"enabled": False, "connected": False, "server": None, "nick": None,
                "channels": [], "last_error": None, "queued": 0, "caps": [],
                "reconnects": 0, "reconnects_by_reason": {}, "last_disconnect_reason": None}

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        return None
