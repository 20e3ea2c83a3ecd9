"""SASL over IRCv3 (PLAIN, SCRAM-SHA-256, EXTERNAL) once CapNegotiator has `sasl` acked."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from ntrbot.irc.scram import ScramClient, ScramError

log = logging.getLogger("ntrbot.irc")

CHUNK = 400
STRONGEST_FIRST = ("EXTERNAL", "SCRAM-SHA-256", "PLAIN")
SETTINGS = ("auto", *STRONGEST_FIRST)


def chunks(data: bytes) -> list[str]:
    """AUTHENTICATE arguments for one payload: base64 in 400-byte pieces, `+` rules."""
    blob = base64.b64encode(data).decode("ascii")
    out = [blob[i:i + CHUNK] for i in range(0, len(blob), CHUNK)]
    if len(blob) % CHUNK == 0:
        out.append("+")  # empty payload, or a last piece of exactly 400: say it ended
    return out


def plain_payload(user: str, password: str) -> list[str]:
    """AUTHENTICATE arguments for PLAIN (authzid = authcid = user), in 400-byte chunks."""
    return chunks(f"{user}\0{user}\0{password}".encode())


def candidates(setting: str, *, has_cert: bool, has_password: bool) -> list[str]:
    """Mechanisms to try, strongest first: `auto` = every one that is configured."""
    if setting.lower() != "auto":
        return [setting.upper()]
    out = ["EXTERNAL"] if has_cert else []
    if has_password:
        out += ["SCRAM-SHA-256", "PLAIN"]
    return out


class Sasl:
    """State machine fed with server events; `send` writes one raw line.

    States: idle -> auth (mechanism sent) -> sent (payload sent) -> done | failed. Every
    path from `start` ends with its `done()` (CapNegotiator's CAP END), so registration
    completes;
    a refusal is logged at ERROR and given to `on_error`. A 904 with mechanisms left tries
    the next one (narrowed by 908 RPL_SASLMECHS).
    """

    def __init__(self, user: str | None, password: str | None, send: Callable[[str], None],
                 on_error: Callable[[str], None] = lambda _why: None, *,
                 mechanism: str = "auto", has_cert: bool = False) -> None:
        self.user = user
        self._password = password
        self._send = send
        self._on_error = on_error
        self._done: Callable[[], None] = lambda: None  # given by each start()
        self.wanted = candidates(mechanism, has_cert=has_cert,
                                 has_password=bool(user and password))
        self.state = "idle"
        self.mechanism: str | None = None
        self._todo: list[str] = []
        self._inbox = ""
        self._scram: ScramClient | None = None
        self._scram_step = 0
        self._last_failure = ""

    @property
    def who(self) -> str:
        return self.user or "(client certificate)"

    def begin(self) -> None:
        """A new connection: forget the old exchange."""
        self.state = "idle"
        self.mechanism = None
        self._todo = []
        self._unsupported = False  # a 908 said the mechanism being tried is not offered

    @property
    def active(self) -> bool:
        return self.state in ("auth", "sent")

    # --- driving -------------------------------------------------------------

    def start(self, offered: list[str] | None, done: Callable[[], None]) -> None:
        """The server acked `sasl`; `offered` from `sasl=...` (None when unlisted).
        `done()` is called once this login is over, whatever the outcome."""
        self._done = done
        self._todo = self._narrow(list(self.wanted), offered)
        if not self._todo:
            self._fail(f"the server offers {','.join(offered or [])}, ntrbot is set up for "
                       + ",".join(self.wanted))
            return
        self._try_next()

    @staticmethod
    def _narrow(todo: list[str], offered: list[str] | None) -> list[str]:
        if not offered:
            return todo
        upper = {m.upper() for m in offered}
        return [m for m in todo if m in upper]

    def _try_next(self) -> None:
        self.mechanism = self._todo.pop(0)
        self.state = "auth"
        self._inbox = ""
        self._scram = None
        self._scram_step = 0
        log.info("IRC SASL %s login as %s", self.mechanism, self.who)
        self._send("AUTHENTICATE " + self.mechanism)

    def unavailable(self, why: str) -> None:
        """SASL cannot even start on this connection (no CAP, not offered, refused)."""
        log.error("IRC SASL login as %s FAILED: %s; continuing without it", self.who, why)
        self.state = "failed"
        self._on_error(f"SASL failed: {why}")

    def _fail(self, why: str) -> None:
        self.unavailable(why)
        self._done()

    def _reply(self, data: bytes) -> None:
        for piece in chunks(data):
            self._send("AUTHENTICATE " + piece)

    # --- server events -------------------------------------------------------

    def on_authenticate(self, arg: str) -> None:
        """One `AUTHENTICATE <arg>` line from the server (payloads may span 400-byte lines)."""
        if not self.active:
            return
        if arg != "+":
            self._inbox += arg
            if len(arg) == CHUNK:
                return  # more follows
        blob, self._inbox = self._inbox, ""
        try:
            data = base64.b64decode(blob, validate=True) if blob else b""
        except (binascii.Error, ValueError):
            self._abort("the server's AUTHENTICATE payload is not base64")
            return
        self._step(data)

    def _step(self, data: bytes) -> None:
        mech = self.mechanism
        if mech == "PLAIN" and self.state == "auth":
            assert self.user and self._password is not None
            self._reply(f"{self.user}\0{self.user}\0{self._password}".encode())
            self.state = "sent"
        elif mech == "EXTERNAL" and self.state == "auth":
            self._reply(b"")  # empty authzid: the account of the certificate
            self.state = "sent"
        elif mech == "SCRAM-SHA-256":
            self._scram_step_on(data)

    def _scram_step_on(self, data: bytes) -> None:
        try:
            if self._scram is None:
                assert self.user and self._password is not None
                self._scram = ScramClient(self.user, self._password)
                self._reply(self._scram.client_first())
            elif self._scram_step == 0:
                self._scram_step = 1
                self._reply(self._scram.client_final(data))
                self.state = "sent"
            elif self._scram_step == 1:
                self._scram.verify(data)
                self._scram_step = 2
                self._reply(b"")
        except (ScramError, UnicodeDecodeError) as exc:
            self._abort(f"SCRAM-SHA-256: {exc}")

    def _abort(self, why: str) -> None:
        self._send("AUTHENTICATE *")
        self._todo = []
        self._fail(why)

    def on_unknown_command(self, command: str) -> None:
        """421 for AUTHENTICATE: the server acked sasl but cannot do it."""
        if self.active and command.upper() == "AUTHENTICATE":
            self._todo = []
            self._fail("the server does not know AUTHENTICATE")

    def on_mechanisms(self, mechanisms: list[str]) -> None:
        """908 RPL_SASLMECHS: what the server really supports (comes before the 904)."""
        self._todo = self._narrow(self._todo, mechanisms)
        self._unsupported = self.mechanism is not None and self.mechanism.upper() not in {
            m.upper() for m in mechanisms}

    def on_success(self) -> None:
        if not self.active:
            return
        if self.mechanism == "SCRAM-SHA-256" and self._scram_step != 2:
            self._fail("SCRAM-SHA-256: the server never proved it knows the password")
            return
        log.info("IRC SASL %s login as %s succeeded", self.mechanism, self.who)
        self.state = "done"
        self._done()

    def on_failure(self, why: str) -> None:
        if not self.active:
            return
        if self.mechanism == "SCRAM-SHA-256" and not self._unsupported:
            # The account refused these credentials: PLAIN would only hand the same
            # password over in the clear to a server that just refused it (no downgrade).
            self._todo = [m for m in self._todo if m != "PLAIN"]
        self._unsupported = False
        if self._todo:
            log.warning("IRC SASL %s login as %s refused (%s); trying %s", self.mechanism,
                        self.who, why, self._todo[0])
            self._try_next()
            return
        self._fail(f"{self.mechanism}: {why}" if self.mechanism else why)
