"""The IRC stand-in when NTR_IRC_SERVER is unset: every line fails as "IRC is off"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.backend import IrcStatus, StatusListener
from ntrbot.irc.delivery import Delivery, finished
from ntrbot.settings import Settings
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
        return finished(target, clean(text), DeliveryState.FAILED, "IRC is off")

    def status(self) -> IrcStatus:
        return IrcStatus(enabled=False)

    def add_listener(self, cb: StatusListener) -> None:
        return None
