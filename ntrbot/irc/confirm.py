"""Server confirmation of written lines: echo-message (by label or text) or a PING fence."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import datetime

import irc.client
import irc.events
import irc.strings

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.delivery import Delivery

log = logging.getLogger("ntrbot.irc")

#: Numerics a server answers a PRIVMSG with when it refuses it.
REFUSALS: dict[str, str] = {code: irc.events.numeric.get(code, code) for code in (
    "401", "403", "404", "407", "411", "412", "442", "477", "486", "489", "492", "499", "531")}
REFUSAL_TYPES: dict[str, str] = {name: code for code, name in REFUSALS.items()}


def tag(event: irc.client.Event, key: str) -> str | None:
    """The value of one IRCv3 message tag of `event`, or None."""
    for t in event.tags or ():
        if isinstance(t, dict) and t.get("key") == key:
            value = t.get("value")
            return "" if value is None else str(value)
    return None


def server_time(event: irc.client.Event) -> datetime | None:
    """The `time` tag (IRCv3 server-time) as an aware datetime, or None."""
    value = tag(event, "time")
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


class Confirmer:
    """Writes confirmed lines and follows each to `delivered` or `failed`.

    With `echo-message` the server's echo of the line confirms it (matched by the
    `labeled-response` label when enabled, else by target and text). A `PING` written right
    after every line fences it: its PONG with no refusal numeric in between confirms the line
    on servers without echo-message; with echo-message a line not echoed by then was dropped.

    A line unconfirmed after `timeout` seconds with no sign of life from the server since it
    was written (`last_rx()`: when the server last sent anything) makes `on_dead` run: the
    link is presumed dead. A server that is still sending is slow, not dead (a flood penalty
    holds our lines back): `on_slow` runs and the line keeps waiting until the server has
    been silent for `timeout` seconds.
    """

    def __init__(self, send_raw: Callable[[str], None], caps: Callable[[], AbstractSet[str]],
                 on_dead: Callable[[Delivery], None], *, timeout: float = 5.0,
                 last_rx: Callable[[], float] | None = None,
                 on_slow: Callable[[Delivery], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send_raw = send_raw
        self._caps = caps
        self._on_dead = on_dead
        self._on_slow = on_slow
        self._last_rx = last_rx or (lambda: float("-inf"))
        self._clock = clock
        self.timeout = timeout
        self._written: dict[int, float] = {}  # id(item) -> when it was last written
        self._seq = itertools.count(1)
        self._unconfirmed: list[Delivery] = []
        self._labels: dict[str, Delivery] = {}
        self._fences: dict[str, Delivery] = {}
        self._echoed: dict[int, bool] = {}  # id(item) -> written with echo-message on

    def __len__(self) -> int:
        return len(self._unconfirmed)

    def write(self, item: Delivery) -> None:
        """Write `item` as a PRIVMSG and its fence; it is `sent` until confirmed."""
        caps = self._caps()
        echo = "echo-message" in caps
        n = next(self._seq)
        if echo and "labeled-response" in caps:
            label = f"n{n}"
            self._send_raw(f"@label={label} PRIVMSG {item.target} :{item.line}")
            self._labels[label] = item
        else:
            self._send_raw(f"PRIVMSG {item.target} :{item.line}")
        item.attempts += 1
        token = f"ntrbot-c{n}"
        self._fences[token] = item
        self._echoed[id(item)] = echo
        self._written[id(item)] = self._clock()
        self._unconfirmed.append(item)
        item.set(DeliveryState.SENT,
                 f"written to the server for {item.target}; waiting for it to confirm")
        self._send_raw(f"PING :{token}")
        item.timer = asyncio.get_running_loop().call_later(self.timeout, self._expired, item)

    def _forget(self, item: Delivery) -> None:
        if item in self._unconfirmed:
            self._unconfirmed.remove(item)
        for table in (self._labels, self._fences):
            for key in [k for k, v in table.items() if v is item]:
                del table[key]
        self._echoed.pop(id(item), None)
        self._written.pop(id(item), None)
        if item.timer is not None:
            item.timer.cancel()

    def _confirm(self, item: Delivery, at: datetime | None, how: str) -> None:
        self._forget(item)
        item.set(DeliveryState.DELIVERED, f"in {item.target} ({how})", at)
        log.debug("IRC line to %s confirmed (%s)", item.target, how)

    def _refuse(self, item: Delivery, detail: str) -> None:
        self._forget(item)
        item.set(DeliveryState.FAILED, detail)
        log.warning("IRC server refused the line to %s: %s", item.target, detail)

    def _find(self, event: irc.client.Event, target: str | None,
              text: str | None = None) -> Delivery | None:
        label = tag(event, "label")
        if label is not None:
            return self._labels.get(label)
        if target is None:
            return None
        key = irc.strings.lower(target)
        for item in self._unconfirmed:
            if irc.strings.lower(item.target) == key and (text is None or item.line == text):
                return item
        return None

    # --- server events -------------------------------------------------------

    def on_echo(self, event: irc.client.Event) -> bool:
        """Our own PRIVMSG came back (echo-message); True when it confirmed a line."""
        text = event.arguments[0] if event.arguments else None
        item = self._find(event, event.target, text)
        if item is None:
            return False
        self._confirm(item, server_time(event), "echoed by the server")
        return True

    def on_refusal(self, event: irc.client.Event) -> bool:
        """A refusal numeric (404, 442, ...); True when it failed a line."""
        code = REFUSAL_TYPES.get(event.type, event.type)
        args = list(event.arguments)
        target = args[0] if args else None
        reason = args[-1] if len(args) > 1 else event.type
        item = self._find(event, target)
        if item is None:
            return False
        self._refuse(item, f"{code} {reason}".strip())
        return True

    def on_pong(self, event: irc.client.Event) -> bool:
        """A PONG; True when it answered one of our fences."""
        token = event.arguments[-1] if event.arguments else (event.target or "")
        item = self._fences.pop(token, None)
        if item is None:
            return False
        if item.state != DeliveryState.SENT:
            return True
        if self._echoed.get(id(item)):
            self._refuse(item, "not confirmed: the server did not echo the line")
        else:
            self._confirm(item, server_time(event), "the server answered the PING after it")
        return True

    def _expired(self, item: Delivery) -> None:
        if item.state != DeliveryState.SENT or item not in self._unconfirmed:
            return
        quiet_since = max(self._last_rx(), self._written.get(id(item), float("-inf")))
        left = quiet_since + self.timeout - self._clock()
        if left > 0:  # the server said something since: slow, not dead
            if self._on_slow is not None:
                self._on_slow(item)
            item.timer = asyncio.get_running_loop().call_later(left, self._expired, item)
            return
        self._on_dead(item)

    def pending(self) -> bool:
        """True while some written line waits for the server's answer."""
        return any(i.state == DeliveryState.SENT for i in self._unconfirmed)

    def take_unconfirmed(self) -> list[Delivery]:
        """Every line still waiting for confirmation, oldest first; forgets them all."""
        items = [i for i in self._unconfirmed if i.state == DeliveryState.SENT]
        for item in list(self._unconfirmed):
            self._forget(item)
        self._labels.clear()
        self._fences.clear()
        self._echoed.clear()
        self._written.clear()
        return items
