"""FakeIrc: the IrcBackend stand-in the app tests compose in, over the real Delivery."""

from __future__ import annotations

from typing import Any

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.backend import IrcBackend, IrcStatus, StatusListener
from ntrbot.irc.commands import CommandHandler
from ntrbot.irc.delivery import Delivery


class FakeIrc:
    """The IrcBackend interface: say() -> the real Delivery, status(), add_listener().

    `mode` says what the server does with the next line: "delivered" (confirms it at once),
    "sent" (written, confirmation pending: `pending` holds it), "queued" (disconnected),
    "refused" (a 404), "failed" (not written) or "raise".
    """

    def __init__(self) -> None:
        self.mode = "delivered"
        self.said: list[tuple[str, str, dict[str, Any]]] = []
        self.pending: list[Delivery] = []
        self.listeners: list[StatusListener] = []
        self.connected = True
        self.commands: CommandHandler | None = None

    async def say(self, target: str, text: str, *, priority: bool = False,
                  fresh_for: float | None = None, confirm: bool = False) -> Delivery:
        self.said.append((target, text, {"priority": priority, "fresh_for": fresh_for,
                                         "confirm": confirm}))
        if self.mode == "raise":
            raise RuntimeError("boom")
        d = Delivery(target, text, priority=priority, confirm=confirm,
                     fresh_for=fresh_for or 180.0)
        if self.mode in ("delivered", "sent", "refused"):
            d.set(DeliveryState.SENT, f"written to the server for {target}")
            if self.mode == "delivered":
                d.set(DeliveryState.DELIVERED, f"in {target} (echoed by the server)")
            elif self.mode == "refused":
                d.set(DeliveryState.FAILED, "404 Cannot send to channel")
            else:
                self.pending.append(d)
        elif self.mode == "queued":
            d.detail = "IRC is disconnected; queued"
            self.pending.append(d)
        else:
            d.set(DeliveryState.FAILED, "not connected")
        return d

    def set_commands(self, commands: CommandHandler) -> None:
        self.commands = commands

    async def start(self) -> None:
        return None

    async def stop(self, message: str = "") -> None:
        return None

    def status(self) -> IrcStatus:
        return IrcStatus(enabled=True, connected=self.connected, nick="ntrbot",
                         channels=("#sewerchat",) if self.connected else (),
                         queued=len([d for d in self.pending if d.state == "queued"]))

    def add_listener(self, cb: StatusListener) -> None:
        self.listeners.append(cb)

    def notify(self) -> None:
        for cb in self.listeners:
            cb(self.status())


# mypy checks here that FakeIrc implements the one IRC interface.
_: IrcBackend = FakeIrc()
