"""jaraco `irc` asyncio pieces: a connection that survives reconnects, TLS, early CAP LS."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import socket
import ssl
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import irc.client_aio
import irc.connection
import jaraco.stream.buffer

from ntrbot.castore import load_fallback_cas

log = logging.getLogger("ntrbot.irc")

_SECRET = re.compile(
    r"\b(PASS|AUTHENTICATE|OPER)( +)(?!(?:PLAIN|EXTERNAL|SCRAM-SHA-256|\*|\+)$)\S.*",
    re.IGNORECASE)
# A password to services: "PRIVMSG NickServ :GHOST nick secret", IDENTIFY, REGAIN, RECOVER
_SERVICES = re.compile(r"(PRIVMSG +NickServ +:?(?:IDENTIFY|GHOST|REGAIN|RECOVER|RELEASE)\b)"
                       r"( +).*", re.IGNORECASE)
# jaraco's parsed-event debug line: "command: authenticate, source: x, target: <payload>"
_EVENT = re.compile(r"(command: authenticate, source: [^,]*, target: )(?!\+,)[^,]+")


class RedactSecrets(logging.Filter):
    """The `irc` library logs raw lines at DEBUG; hide PASS/OPER and every SASL payload."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        redacted = _SECRET.sub(lambda m: m.group(1) + m.group(2) + "***", msg)
        redacted = _EVENT.sub(lambda m: m.group(1) + "***", redacted)
        redacted = _SERVICES.sub(lambda m: m.group(1) + m.group(2) + "***", redacted)
        if redacted != msg:
            record.msg, record.args = redacted, ()
        return True


for _name in ("irc.client", "irc.client_aio"):
    logging.getLogger(_name).addFilter(RedactSecrets())


# jaraco `irc` ships no type information (no py.typed, no stubs), so its classes are `Any`
# to mypy. The subclasses below declare, under TYPE_CHECKING, the signatures of the parts
# ntrbot calls, so that the code using them is checked.

class Protocol(irc.client_aio.IrcProtocol):
    """Ignores callbacks from an old transport once the connection object has moved on."""

    transport: asyncio.BaseTransport | None = None
    if TYPE_CHECKING:
        connection: Connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def _current(self) -> bool:
        current = self.connection.transport
        return current is None or current is self.transport

    def data_received(self, data: bytes) -> None:
        if self._current():
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._current():
            super().connection_lost(exc)


class Connection(irc.client_aio.AioConnection):
    """AioConnection that survives non-UTF-8 and malformed input instead of dropping."""

    protocol_class = Protocol
    buffer_class = jaraco.stream.buffer.LenientDecodingLineBuffer
    transport: asyncio.Transport | None = None

    if TYPE_CHECKING:
        async def connect(self, server: str, port: int, nickname: str,
                          password: str | None = None, username: str | None = None,
                          ircname: str | None = None,
                          connect_factory: Callable[..., Any] = ...) -> Connection: ...
        def is_connected(self) -> bool: ...
        def disconnect(self, message: str = "") -> None: ...
        def send_raw(self, string: str) -> None: ...
        def privmsg(self, target: str, text: str) -> None: ...

    def _process_line(self, line: str) -> None:
        # A malformed line (e.g. "PRIVMSG" without arguments) must not kill the link.
        try:
            super()._process_line(line)
        except Exception:
            log.warning("IRC ignored a line it could not handle: %.200r", line, exc_info=True)


def reset_on_close(transport: asyncio.BaseTransport) -> None:
    """Make closing `transport` reset the TCP connection (SO_LINGER 0) instead of ending it.

    For a link presumed dead: the kernel drops the bytes the server never acknowledged
    instead of retransmitting them for minutes, so a line written on the dead link cannot
    reach the server once the network is back, beside the copy re-sent after the rejoin.
    (A server that stalled with the line already in its own socket buffer still reads it
    when it wakes; nothing on the client side can take that back.)
    """
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError as exc:  # already closed: there is nothing left to drop
        log.debug("IRC could not set SO_LINGER on the dropped link: %s", exc)


class Reactor(irc.client_aio.AioReactor):
    connection_class = Connection

    def server(self) -> Connection:
        """A new Connection (jaraco makes it of `connection_class`)."""
        conn = super().server()
        assert isinstance(conn, Connection)
        return conn


def _no_passphrase() -> bytes:
    return b""  # an encrypted key fails to load instead of prompting on the terminal


def load_client_cert(ctx: ssl.SSLContext, cert: str, key: str | None = None) -> None:
    """Load a PEM client certificate (and key, if separate); ssl.SSLError/OSError if bad."""
    ctx.load_cert_chain(cert, key or None, password=_no_passphrase)


@functools.cache
def tls_context(verify: bool = True, cert: str | None = None,
                key: str | None = None) -> ssl.SSLContext:
    """The IRC client's TLS context, built once: loading the CA store costs ~80 ms of CPU.

    `cert`/`key`: PEM client certificate and key (CertFP, SASL EXTERNAL).
    """
    ctx = ssl.create_default_context()
    if verify:
        load_fallback_cas(ctx)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        load_client_cert(ctx, cert, key)
    return ctx


def make_factory(inner: Callable[..., Any] | None, *, tls: bool, tls_verify: bool,
                 first_lines: list[str], tls_cert: str | None = None,
                 tls_key: str | None = None) -> Callable[..., Any]:
    """A connect_factory that writes `first_lines` before connect() sends PASS/NICK/USER.

    The TLS context is built on the first call, inside connect(): a client certificate that
    cannot be loaded is then a reported, retried connect failure, not a crash.
    """

    async def factory(protocol: Any, address: Any) -> Any:
        base = inner
        if base is None:
            base = (irc.connection.AioFactory(ssl=tls_context(tls_verify, tls_cert, tls_key))
                    if tls else irc.connection.AioFactory())
        transport, proto = await base(protocol, address)
        for line in first_lines:
            transport.write(line.encode("utf-8") + b"\r\n")
        return transport, proto

    return factory
