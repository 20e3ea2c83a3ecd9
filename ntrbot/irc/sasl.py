"""SASL PLAIN over IRCv3 CAP negotiation (the aio flavour of `irc` has none)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

log = logging.getLogger("ntrbot.irc")

CHUNK = 400


def plain_payload(user: str, password: str) -> list[str]:
    """AUTHENTICATE arguments for PLAIN (authzid = authcid = user), in 400-byte chunks."""
    blob = base64.b64encode(f"{user}\0{user}\0{password}".encode()).decode("ascii")
    chunks = [blob[i:i + CHUNK] for i in range(0, len(blob), CHUNK)]
    if len(blob) % CHUNK == 0:
        chunks.append("+")
    return chunks


class Sasl:
    """State machine fed with server events once CapNegotiator has the sasl capability.

    States: idle -> auth -> sent -> done | failed. Every path calls `on_done` (CAP END), so
    registration always completes; a refusal is logged at ERROR and given to `on_error`.
    """

    def __init__(self, user: str, password: str, send: Callable[[str], None],
                 on_error: Callable[[str], None] = lambda _why: None,
                 on_done: Callable[[], None] = lambda: None) -> None:
        self.user = user
        self._password = password
        self._send = send
        self._on_error = on_error
        self.on_done = on_done
        self.state = "idle"

    def begin(self) -> None:
        """A new connection: forget the old exchange."""
        self.state = "idle"

    @property
    def active(self) -> bool:
        return self.state in ("auth", "sent")

    def start(self, mechanisms: list[str] | None) -> None:
        """The server acked `sasl`; `mechanisms` from `sasl=...` (None when unlisted)."""
        if mechanisms is not None and "PLAIN" not in mechanisms:
            self.unavailable("the server offers " + ",".join(mechanisms) + ", not PLAIN")
            self.on_done()
            return
        self.state = "auth"
        self._send("AUTHENTICATE PLAIN")

    def unavailable(self, why: str) -> None:
        """SASL cannot even start on this connection (no CAP, not offered, refused)."""
        log.error("IRC SASL login as %s FAILED: %s; continuing without it", self.user, why)
        self.state = "failed"
        self._on_error(f"SASL failed: {why}")

    def _fail(self, why: str) -> None:
        self.unavailable(why)
        self.on_done()

    def on_authenticate(self, arg: str) -> None:
        if self.state != "auth" or arg != "+":
            return
        for chunk in plain_payload(self.user, self._password):
            self._send("AUTHENTICATE " + chunk)
        self.state = "sent"

    def on_success(self) -> None:
        if self.active:
            log.info("IRC SASL login as %s succeeded", self.user)
            self.state = "done"
            self.on_done()

    def on_failure(self, why: str) -> None:
        if self.active:
            self._fail(why)
