"""The IRC link's state (per connection and across them) and what its collaborators may ask."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import irc.strings

if TYPE_CHECKING:
    from ntrbot.irc.reasons import Reason
    from ntrbot.irc.transport import Connection

log = logging.getLogger("ntrbot.irc")


def alternate_nicks(nick: str) -> Iterator[str]:
    """Fallback nicks: nick_, nick__, then short numbered ones (fit a 9-character limit)."""
    yield nick + "_"
    yield nick + "__"
    for i in itertools.count(1):
        yield f"{nick[:7]}{i}"


def safely(fn: Callable[..., Any], *args: Any) -> None:
    """Call a write on the connection; a failure is one log line (the link handles it)."""
    try:
        fn(*args)
    except Exception as exc:
        log.warning("IRC write failed: %s", exc)


class LinkActions(Protocol):
    """The few things ServerEvents and LinkWatch ask of the client that owns the link."""

    def send_raw(self, line: str) -> None:
        """Write one protocol line now (a failure is logged)."""
        ...

    def join(self, channel: str) -> None:
        """Send the JOIN for `channel` (with its key)."""
        ...

    def set_error(self, text: str) -> None:
        """Set last_error and tell the status listeners."""
        ...

    def notify(self) -> None:
        """Tell the status listeners that the state changed."""
        ...


@dataclass
class LinkState:
    """What the client knows of its link. `new_connection()` resets the per-connection part;
    last_error, the stop and reconnect flags and the ping counter live across connections."""

    wanted_nick: str
    port: int  # the current connection's (an STS policy moves it)
    connection: Connection | None = None
    # across connections
    last_error: str | None = None
    stopping: bool = False
    reconnect_now: bool = False  # the next connect goes at once, without the backoff
    ping_seq: int = 0
    lost: asyncio.Event = field(default_factory=asyncio.Event)  # set when a link ends
    # per connection
    registered: bool = False
    nick: str = ""
    userhost: str | None = None
    joined: dict[str, str] = field(default_factory=dict)  # irc.strings.lower(name) -> name
    bot_mode: str | None = None  # the BOT= user mode letter set on this connection
    last_rx: float = 0.0  # when the server last sent anything
    connected_at: float = 0.0
    ping_sent: float | None = None  # our keepalive PING awaiting its answer
    server_error: str | None = None  # the server's ERROR text
    throttle: str | None = None  # the server's "(re)connect too fast" ERROR text
    down_reason: Reason | None = None  # set when we drop the link ourselves
    slow_logged: bool = False
    alt: Iterator[str] = field(default_factory=lambda: iter(()))

    def __post_init__(self) -> None:
        self.nick = self.nick or self.wanted_nick

    def new_connection(self) -> None:
        """Forget what the last connection knew, before the next one starts."""
        self.registered = False
        self.joined.clear()
        self.ping_sent = None
        self.server_error = None
        self.throttle = None
        self.down_reason = None
        self.slow_logged = False
        self.alt = alternate_nicks(self.wanted_nick)
        self.nick = self.wanted_nick
        self.lost.clear()

    def is_connected(self) -> bool:
        return self.connection is not None and self.connection.is_connected()

    def is_me(self, nick: str | None) -> bool:
        return nick is not None and irc.strings.lower(nick) == irc.strings.lower(self.nick)

    def in_channel(self, channel: str) -> bool:
        return irc.strings.lower(channel) in self.joined
