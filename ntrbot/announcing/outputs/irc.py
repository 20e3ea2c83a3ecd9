"""The IRC announce channels as an announce output, over the IRC backend's say()."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import irc.strings

from ntrbot.announcing.outputs import Airing, Update, stopped
from ntrbot.deliveries import DeliveryState, OutputKind, output_name, output_target
from ntrbot.irc.delivery import Delivery, finished

if TYPE_CHECKING:
    from ntrbot.irc.backend import IrcBackend
    from ntrbot.settings import Settings
    from ntrbot.store.models import OutputDelivery

log = logging.getLogger("ntrbot.announce")


class IrcOutputs:
    """Each announce channel (NTR_ANNOUNCE_CHANNELS) while IRC is on: `irc:<channel>`.

    A line is sent with priority and a confirmation; it is `delivered` only once the
    server confirmed it, `expired` when it could not be sent while fresh.
    """

    kinds: tuple[OutputKind, ...] = (OutputKind.IRC,)

    def __init__(self, backend: IrcBackend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings

    @property
    def on(self) -> bool:
        return self.backend.status().enabled

    @property
    def names(self) -> list[str]:
        channels = self.settings.announce_channels if self.on else ()
        return [output_name(OutputKind.IRC, c) for c in channels]

    @property
    def absent(self) -> str:
        """Why an announce has no IRC output."""
        return "IRC is off" if not self.on else "IRC is not configured"

    async def start(self, airing: Airing, update: Update) -> None:
        for name in self.names:
            d = await self._say(output_target(name), airing.line, airing.fresh_for)
            update(name, d.state, d.detail or "waiting for IRC", d.at)

            def follow(d: Delivery, name: str = name) -> None:
                update(name, d.state, d.detail, d.at)
            d.on_change(follow)

    async def _say(self, channel: str, message: str, fresh: float) -> Delivery:
        try:
            return await self.backend.say(channel, message, priority=True, confirm=True,
                                          fresh_for=fresh)
        except Exception as exc:  # the IRC client must never make an announce a 5xx
            log.warning("IRC send failed: %s", type(exc).__name__)
            return finished(channel, message, DeliveryState.FAILED, "IRC send failed")

    def settles_when_sent(self, delivery: OutputDelivery) -> bool:
        return False  # an announce line waits for the server's confirmation

    def cut_off(self, delivery: OutputDelivery) -> tuple[DeliveryState, str] | None:
        return stopped(delivery)

    def worth_waiting(self, delivery: OutputDelivery) -> bool:
        """Wait for a line written or about to be (flood limit), not for one waiting for IRC
        to come back: the host learns at once that it is queued."""
        if delivery.final:
            return False
        if delivery.state == DeliveryState.SENT:
            return True
        st = self.backend.status()
        return st.connected and irc.strings.lower(output_target(delivery.output)) in {
            irc.strings.lower(c) for c in st.channels}
