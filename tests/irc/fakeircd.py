"""A scripted in-process IRC server for client tests that real servers cannot drive."""

from __future__ import annotations

import asyncio
import base64
import contextlib

from tests.support.rawirc import Msg, parse


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
            self.send(f":fake 001 {self.nick} :Welcome {self.prefix}")
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
        elif m.command == "AUTHENTICATE" and p == ("PLAIN",):
            self.send("AUTHENTICATE +")
        elif m.command == "AUTHENTICATE":
            if base64.b64decode(p[0]) == s.sasl_ok:
                self.send(f":fake 900 * {self.prefix} bot :You are now logged in")
                self.send(":fake 903 * :SASL authentication successful")
            else:
                self.send(":fake 904 * :SASL authentication failed")
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
        elif m.command == "QUIT":
            self.writer.close()


class FakeIrcd:
    """Accepts connections on a free loopback port; `conns` in order of arrival."""

    def __init__(self, ssl=None) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.conns: list[FakeConn] = []
        self.caps = "multi-prefix sasl=PLAIN"
        self.cap_mode = "ok"  # or "421" (unknown command) or "silent" (ignored)
        self.ls_per_line = 0  # > 0: CAP LS split over lines of this many caps
        self.nak: set[str] = set()  # a REQ naming one of these is refused whole
        self.sasl_ok = b"bot\0bot\0right"
        self.taken: set[str] = set()
        self.isupport = "CHANTYPES=# NICKLEN=30"  # the 005 tokens after 001
        self.mute = False
        self.welcome = True
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

    async def wait(self, predicate, timeout: float = 20.0):
        """Wait until predicate() is truthy; returns its value."""
        async def loop():
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
