"""IRCv3 capability negotiation: CAP LS 302, REQ/ACK/NAK, NEW/DEL, hand-off to SASL, CAP END."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("ntrbot.irc")

WANTED = ("echo-message", "labeled-response", "message-tags", "server-time", "batch",
          "cap-notify")
MAX_REQ = 400  # characters of capability names per CAP REQ line


def parse_caps(text: str) -> dict[str, str | None]:
    """'a b=1,2 c' -> {'a': None, 'b': '1,2', 'c': None} (names lowercased)."""
    out: dict[str, str | None] = {}
    for token in text.split():
        name, sep, value = token.partition("=")
        out[name.lower()] = value if sep else None
    return out


class SaslLogin(Protocol):
    """What CapNegotiator hands the acked `sasl` capability to (irc/sasl.Sasl)."""

    def start(self, offered: list[str] | None, done: Callable[[], None]) -> None:
        """Log in with what the server listed (`sasl=...`, None when unlisted); call
        `done()` once it is over, whatever the outcome."""
        ...

    def unavailable(self, why: str) -> None:
        """SASL cannot even start on this connection."""
        ...


class CapNegotiator:
    """Fed with server events; `send` writes one raw line.

    States: ls -> req -> (sasl) -> done, or none (the server knows no CAP). With a `sasl`
    login, CAP END waits until it calls back; without one `end()` follows the last ACK/NAK.
    """

    def __init__(self, send: Callable[[str], None], *, sasl: SaslLogin | None = None) -> None:
        self._send = send
        self._sasl = sasl
        self.state = "idle"
        self.offered: dict[str, str | None] = {}
        self.enabled: set[str] = set()
        self._ls: list[str] = []
        self._pending: list[list[str]] = []  # REQ lines not yet answered, in order

    # --- lifecycle -----------------------------------------------------------

    def begin(self) -> None:
        """A new connection is about to send `CAP LS 302`: forget the old one."""
        self.state = "ls"
        self.offered = {}
        self.enabled = set()
        self._ls = []
        self._pending = []

    @property
    def want_sasl(self) -> bool:
        return self._sasl is not None

    @property
    def negotiating(self) -> bool:
        return self.state in ("ls", "req", "sasl")

    def end(self) -> None:
        """Finish negotiation with CAP END (once per connection)."""
        if self.negotiating:
            self.state = "done"
            log.info("IRC capabilities: %s", " ".join(sorted(self.enabled)) or "none")
            self._send("CAP END")

    def lost(self) -> None:
        """The connection dropped: nothing is enabled any more."""
        self.state = "idle"
        self.enabled = set()
        self._pending = []

    def registered(self) -> None:
        """001 arrived: a server that ignored CAP LS registered us without negotiating."""
        if self.state == "ls" and not self._ls:
            self._no_cap("the server did not answer CAP LS")
        elif self.negotiating:
            self.state = "done"

    def unknown_command(self, command: str) -> None:
        """421 for CAP: the server has no capability negotiation at all."""
        if command.upper() == "CAP" and self.negotiating:
            self._no_cap("the server does not know CAP")

    def _no_cap(self, why: str) -> None:
        log.info("IRC no capability negotiation: %s", why)
        self.state = "none"
        self._sasl_unavailable("the server does not support CAP/SASL")

    def _sasl_unavailable(self, why: str) -> None:
        if self._sasl is not None:
            self._sasl.unavailable(why)

    # --- CAP events ----------------------------------------------------------

    def on_cap(self, args: list[str]) -> None:
        """`args` after the target: [subcommand, ('*',) caps]."""
        if not args or self.state == "idle":
            return
        sub = args[0].upper()
        more = len(args) > 2 and args[1] == "*"
        text = args[-1] if len(args) > 1 else ""
        if sub == "LS":
            self._on_ls(text, more)
        elif sub == "ACK":
            self._on_ack(text, more)
        elif sub == "NAK":
            self._on_nak(text)
        elif sub == "NEW":
            self._on_new(text)
        elif sub == "DEL":
            self._on_del(text)

    def invalid_command(self) -> None:
        """410 (invalid CAP subcommand): give up on what is pending and finish."""
        self._pending = []
        if self.state == "req":
            self._after_req()
        elif self.state == "ls":
            self.end()

    def _on_ls(self, text: str, more: bool) -> None:
        if self.state != "ls":
            return
        self._ls.append(text)
        if more:
            return  # more LS lines follow
        self.offered = parse_caps(" ".join(self._ls))
        wanted = [c for c in WANTED if c in self.offered]
        if self.want_sasl and "sasl" in self.offered:
            wanted.append("sasl")
        log.debug("IRC server offers: %s", " ".join(sorted(self.offered)) or "nothing")
        self.state = "req"
        self._request(wanted)
        if not self._pending:
            self._after_req()

    def _request(self, caps: list[str]) -> None:
        line: list[str] = []
        for cap in caps:
            if line and len(" ".join([*line, cap])) > MAX_REQ:
                self._send_req(line)
                line = []
            line.append(cap)
        if line:
            self._send_req(line)

    def _send_req(self, caps: list[str]) -> None:
        self._pending.append(caps)
        self._send("CAP REQ :" + " ".join(caps))

    def _answered(self, caps: list[str]) -> list[str] | None:
        """Remove and return the pending REQ this ACK/NAK answers."""
        names = {c.lstrip("-~=").lower() for c in caps}
        for i, req in enumerate(self._pending):
            if {c.lstrip("-").lower() for c in req} == names:
                return self._pending.pop(i)
        return self._pending.pop(0) if self._pending else None

    def _on_ack(self, text: str, more: bool) -> None:
        caps = text.split()
        for cap in caps:
            name = cap.lstrip("~=").lower()
            if name.startswith("-"):
                self.enabled.discard(name[1:])
            elif name:
                self.enabled.add(name)
        if more:
            return
        self._answered(caps)
        if self.state == "req" and not self._pending:
            self._after_req()

    def _on_nak(self, text: str) -> None:
        caps = text.split()
        req = self._answered(caps) or caps
        if len(req) > 1:  # a REQ is all or nothing: ask for each one alone
            log.info("IRC server refused %s together; asking one by one", " ".join(req))
            for cap in req:
                self._send_req([cap])
        else:
            log.info("IRC server refused capability %s", " ".join(req))
        if self.state == "req" and not self._pending:
            self._after_req()

    def _on_new(self, text: str) -> None:
        new = parse_caps(text)
        self.offered.update(new)
        wanted = [c for c in WANTED if c in new and c not in self.enabled]
        if self.state in ("ls", "req") and self.want_sasl and "sasl" in new:
            wanted.append("sasl")
        if wanted:
            self._request(wanted)

    def _on_del(self, text: str) -> None:
        for name in parse_caps(text):
            self.offered.pop(name, None)
            if name in self.enabled:
                log.info("IRC server withdrew capability %s", name)
                self.enabled.discard(name)

    def _after_req(self) -> None:
        if "sasl" in self.enabled and self._sasl is not None:
            self.state = "sasl"
            value = self.offered.get("sasl")
            mechs = [m.upper() for m in value.split(",") if m] if value else None
            self._sasl.start(mechs, self.end)
            return
        if self.want_sasl:
            self._sasl_unavailable("the server refused the sasl capability"
                                   if "sasl" in self.offered else
                                   "the server does not offer SASL")
        self.end()
