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
    """State machine fed with server events; `send` writes one raw line.

    States: idle -> ls -> req -> auth -> sent -> done | failed. Every path ends with CAP END,
    so registration always completes; a refusal is logged at ERROR and given to `on_error`.
    """

    def __init__(self, user: str, password: str, send: Callable[[str], None],
                 on_error: Callable[[str], None] = lambda _why: None) -> None:
        self.user = user
        self._password = password
        self._send = send
        self._on_error = on_error
        self.state = "idle"
        self._caps: list[str] = []

    def begin(self) -> None:
        """A new connection sent `CAP LS 302`."""
        self.state = "ls"
        self._caps = []

    @property
    def active(self) -> bool:
        return self.state in ("ls", "req", "auth", "sent")

    def _fail(self, why: str) -> None:
        log.error("IRC SASL login as %s FAILED: %s; continuing without it", self.user, why)
        self.state = "failed"
        self._on_error(f"SASL failed: {why}")
        self._send("CAP END")

    def on_cap(self, args: list[str]) -> None:
        """`args` after the target: [subcommand, ('*',) caps]."""
        if not self.active or not args:
            return
        sub = args[0].upper()
        if sub == "LS" and self.state == "ls":
            self._caps.extend(args[-1].split() if len(args) > 1 else [])
            if len(args) > 2 and args[1] == "*":
                return  # more LS lines follow
            if "sasl" in {c.split("=", 1)[0].lower() for c in self._caps}:
                self.state = "req"
                self._send("CAP REQ :sasl")
            else:
                self._fail("the server does not offer SASL")
        elif sub == "ACK" and self.state == "req" and "sasl" in args[-1].lower().split():
            self.state = "auth"
            self._send("AUTHENTICATE PLAIN")
        elif sub == "NAK" and self.state == "req":
            self._fail("the server refused the sasl capability")

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
            self._send("CAP END")

    def on_failure(self, why: str) -> None:
        if self.active:
            self._fail(why)

    def on_unknown_command(self, command: str) -> None:
        if self.active and command.upper() in ("CAP", "AUTHENTICATE"):
            self._fail("the server does not support CAP/SASL")
