"""A scripted in-process IRC server for client tests that real servers cannot drive."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
from collections.abc import Callable
from ssl import SSLContext
from typing import TypeVar

from tests.support.rawirc import Msg, parse

T = TypeVar("T")


class FakeConn:
    def __init__(self, server: FakeIrcd, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.received: list[Msg] = []
        self.nick = ""
        self.user = ""
        self.capping = False
        self.registered = False
        self.closed = asyncio.Event()
        self.reset = False  # the client ended the connection with a TCP reset, not a FIN
        self.sasl = FakeSasl(self)
        ssl_object = writer.get_extra_info("ssl_object")
        self.peercert: bytes | None = (ssl_object.getpeercert(binary_form=True)
                                       if ssl_object is not None else None)

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode()
        with contextlib.suppress(Exception):
            self.writer.write(data + b"\r\n")

    @property
    def prefix(self) -> str:
        return f"{self.nick}!~{self.user}@fake.host"

    def _maybe_register(self) -> None:
        if (self.nick and self.user and not self.capping and not self.registered
                and self.server.welcome):
            self.registered = True
            tags = f"@{self.server.welcome_tags} " if self.server.welcome_tags else ""
            self.send(f"{tags}:fake 001 {self.nick} :Welcome {self.prefix}")
            if self.server.isupport:
                self.send(f":fake 005 {self.nick} {self.server.isupport} "
                          ":are supported by this server")
            self.send(f":fake 376 {self.nick} :End of MOTD")

    async def serve(self) -> None:
        try:
            while True:
                data = await self.reader.readline()
                if not data:
                    break
                msg = parse(data.decode("utf-8", "replace").rstrip("\r\n"))
                self.received.append(msg)
                self.server.changed.set()
                self.handle(msg)
        except ConnectionResetError:
            self.reset = True
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            self.server.changed.set()
            self.writer.close()

    def handle(self, m: Msg) -> None:
        s = self.server
        p = m.params
        if m.command == "CAP" and s.cap_mode == "421":
            self.send(f":fake 421 {self.nick or '*'} CAP :Unknown command")
        elif m.command == "CAP" and s.cap_mode == "silent":
            pass
        elif m.command == "CAP" and p and p[0] == "LS":
            self.capping = True
            words = s.caps.split()
            per = s.ls_per_line or max(1, len(words))
            lines = [" ".join(words[i:i + per]) for i in range(0, len(words), per)] or [""]
            for i, line in enumerate(lines):
                more = "* " if i < len(lines) - 1 else ""
                self.send(f":fake CAP * LS {more}:{line}")
        elif m.command == "CAP" and p and p[0] == "REQ":
            names = {c.lstrip("-") for c in p[-1].split()}
            if names & s.nak:
                self.send(f":fake CAP * NAK :{p[-1]}")
            else:
                self.send(f":fake CAP * ACK :{p[-1]}")
        elif m.command == "CAP" and p and p[0] == "END":
            self.capping = False
            self._maybe_register()
        elif m.command == "AUTHENTICATE":
            self.sasl.line(p[0] if p else "")
        elif m.command == "NICK":
            if p[0].lower() in s.taken:
                self.send(f":fake 433 * {p[0]} :Nickname is already in use")
            elif self.registered:
                self.send(f":{self.prefix} NICK {p[0]}")
                self.nick = p[0]
            else:
                self.nick = p[0]
                self._maybe_register()
        elif m.command == "USER":
            self.user = p[0]
            self._maybe_register()
        elif m.command == "JOIN":
            for ch in p[0].split(","):
                self.send(f":{self.prefix} JOIN {ch}")
                self.send(f":fake 366 {self.nick} {ch} :End of NAMES")
        elif m.command == "PING" and not s.mute:
            self.send(f":fake PONG fake :{p[-1]}")
        elif m.command == "QUIT" and not s.mute:  # a dead path delivers nothing back
            self.writer.close()


class FakeIrcd:
    """Accepts connections on a free loopback port; `conns` in order of arrival."""

    def __init__(self, ssl: SSLContext | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.conns: list[FakeConn] = []
        self.caps = "multi-prefix sasl=PLAIN"
        self.cap_mode = "ok"  # or "421" (unknown command) or "silent" (ignored)
        self.ls_per_line = 0  # > 0: CAP LS split over lines of this many caps
        self.nak: set[str] = set()  # a REQ naming one of these is refused whole
        self.sasl_ok = b"bot\0bot\0right"
        self.sasl_mechs: list[str] | None = None  # None: those in `caps` sasl=..., or PLAIN
        self.scram_user, self.scram_password = "bot", "right"
        self.scram_iterations = 4096
        self.scram_bad_signature = False  # True: the server "proves" a wrong key
        self.taken: set[str] = set()
        self.isupport = "CHANTYPES=# NICKLEN=30"  # the 005 tokens after 001
        self.mute = False
        self.welcome = True
        self.welcome_tags = ""  # e.g. "time=..." on the 001 line
        self.ssl = ssl
        self.changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> FakeIrcd:
        self._server = await asyncio.start_server(self._accept, self.host, 0, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = FakeConn(self, reader, writer)
        self.conns.append(conn)
        self.changed.set()
        await conn.serve()

    async def wait(self, predicate: Callable[[], T], timeout: float = 20.0) -> T:
        """Wait until predicate() is truthy; returns its value."""
        async def loop() -> T:
            while True:
                value = predicate()
                if value:
                    return value
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(loop(), timeout)

    def commands(self, conn: int = -1) -> list[str]:
        return [m.command for m in self.conns[conn].received]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for c in self.conns:
            c.writer.close()


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


class FakeSasl:
    """Server side of SASL PLAIN, EXTERNAL (needs the TLS client certificate) and
    SCRAM-SHA-256 (RFC 5802 written out here independently of ntrbot's client)."""

    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn
        self.mech: str | None = None
        self.buf = ""
        self.step = 0
        self.outcomes: list[str] = []  # "<MECH> ok" / "<MECH> failed" / "aborted"

    @property
    def mechs(self) -> list[str]:
        s = self.conn.server
        if s.sasl_mechs is not None:
            return s.sasl_mechs
        for token in s.caps.split():
            if token.startswith("sasl="):
                return token[5:].split(",")
        return ["PLAIN"]

    def _b64(self, data: bytes) -> None:
        blob = base64.b64encode(data).decode()
        for i in range(0, len(blob), 400):
            self.conn.send("AUTHENTICATE " + blob[i:i + 400])
        if len(blob) % 400 == 0:
            self.conn.send("AUTHENTICATE +")

    def _done(self, ok: bool) -> None:
        self.outcomes.append(f"{self.mech} {'ok' if ok else 'failed'}")
        self.mech = None
        if ok:
            self.conn.send(f":fake 900 * {self.conn.prefix} bot :You are now logged in")
            self.conn.send(":fake 903 * :SASL authentication successful")
        else:
            self.conn.send(":fake 904 * :SASL authentication failed")

    def line(self, arg: str) -> None:
        if arg == "*":
            self.mech = None
            self.outcomes.append("aborted")
            self.conn.send(":fake 906 * :SASL authentication aborted")
            return
        if self.mech is None:
            if arg.upper() not in self.mechs:
                self.conn.send(f":fake 908 * {','.join(self.mechs)} :are available SASL "
                               "mechanisms")
                self.conn.send(":fake 904 * :SASL authentication failed")
                return
            self.mech, self.buf, self.step = arg.upper(), "", 0
            self.conn.send("AUTHENTICATE +")
            return
        self.buf += "" if arg == "+" else arg
        if len(arg) == 400:
            return
        data, self.buf = base64.b64decode(self.buf), ""
        if self.mech == "PLAIN":
            self._done(data == self.conn.server.sasl_ok)
        elif self.mech == "EXTERNAL":
            self._done(data == b"" and bool(self.conn.peercert))
        else:
            self._scram(data)

    def _scram(self, data: bytes) -> None:
        s = self.conn.server
        if self.step == 0:
            text = data.decode()
            if not text.startswith("n,,"):
                return self._done(False)
            self.client_bare = text[3:]
            fields = dict(f.split("=", 1) for f in self.client_bare.split(","))
            if fields.get("n") != s.scram_user:
                return self._done(False)
            self.salt = b"fake-salt-1234"
            self.nonce = fields["r"] + "srvNonce42"
            self.server_first = (f"r={self.nonce},s={base64.b64encode(self.salt).decode()},"
                                 f"i={s.scram_iterations}")
            self.step = 1
            self._b64(self.server_first.encode())
        elif self.step == 1:
            text = data.decode()
            without_proof, _, proof = text.rpartition(",p=")
            if without_proof != f"c=biws,r={self.nonce}":
                return self._done(False)
            salted = hashlib.pbkdf2_hmac("sha256", s.scram_password.encode(), self.salt,
                                         s.scram_iterations)
            stored = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
            auth = f"{self.client_bare},{self.server_first},{without_proof}".encode()
            signature = _hmac(stored, auth)
            client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature,
                                                          strict=False))
            if hashlib.sha256(client_key).digest() != stored:
                return self._done(False)
            server_sig = _hmac(_hmac(salted, b"Server Key"), auth)
            if s.scram_bad_signature:
                server_sig = bytes(32)
            self.step = 2
            self._b64(b"v=" + base64.b64encode(server_sig))
        else:
            self._done(data == b"")
        return None
