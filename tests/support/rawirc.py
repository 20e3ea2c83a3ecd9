"""A small raw IRC client for tests: connect, join, send, wait_for a received line."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

_LINE = re.compile(r"^(?::(?P<prefix>\S+) +)?(?P<command>\S+)(?P<rest>.*)$")


@dataclass(frozen=True)
class Msg:
    """One parsed line: prefix (may be ''), upper-case command, params (trailing last).

    ``raw`` is the line without its IRCv3 tags; ``tags`` holds them (values unescaped).
    """

    raw: str
    prefix: str
    command: str
    params: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]


_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


def parse_tags(text: str) -> dict[str, str]:
    """IRCv3 message tags ("a=1;b;c=x\\sy", without the '@') as a dict, values unescaped."""
    tags: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        key, _, value = item.partition("=")
        out, i = [], 0
        while i < len(value):
            if value[i] == "\\" and i + 1 < len(value):
                out.append(_TAG_ESCAPES.get(value[i + 1], value[i + 1]))
                i += 2
            else:
                out.append(value[i] if value[i] != "\\" else "")
                i += 1
        tags[key] = "".join(out)
    return tags


def parse(line: str) -> Msg:
    tags: dict[str, str] = {}
    if line.startswith("@"):
        head, _, line = line.partition(" ")
        tags = parse_tags(head[1:])
    m = _LINE.match(line)
    if not m:
        return Msg(line, "", "", (), tags)
    rest = m.group("rest")
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        word, _, rest = rest.partition(" ")
        params.append(word)
    return Msg(line, m.group("prefix") or "", m.group("command").upper(), tuple(params), tags)


class RawIrc:
    """Observer client. Every received line is kept in `lines` (PINGs are answered)."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[str] = []
        self._cond = asyncio.Condition()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self.caps_available: set[str] = set()  # from CAP LS (names, values dropped)
        self.caps_enabled: set[str] = set()  # ACKed by the server

    @classmethod
    async def connect(cls, host: str, port: int, nick: str, timeout: float = 20.0,
                      password: str | None = None,
                      caps: tuple[str, ...] | list[str] | None = None) -> RawIrc:
        """Register as ``nick``. With ``caps`` (even empty) negotiate IRCv3 first.

        ``CAP LS 302`` fills ``caps_available``; the wanted caps are requested in one
        ``CAP REQ`` (all or nothing, as servers answer) and, if ACKed, land in ``caps_enabled``.
        """
        self = cls(nick)
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout)
        self._task = asyncio.create_task(self._read_loop())
        if password:
            await self.send(f"PASS {password}")
        if caps is not None:
            await self.send("CAP LS 302")
        await self.send(f"NICK {nick}")
        await self.send(f"USER {nick} 0 * :{nick} observer")
        if caps is not None:
            await self._negotiate(list(caps), timeout)
        await self.wait_for(lambda m: m.command == "001", timeout)
        return self

    async def _negotiate(self, caps: list[str], timeout: float) -> None:
        def ls_line(m: Msg) -> bool:
            return m.command == "CAP" and len(m.params) > 2 and m.params[1].upper() == "LS"

        # CAP * LS * :... lines continue; the last one has no '*'
        await self.wait_for(lambda m: ls_line(m) and m.params[2] != "*", timeout)
        for m in filter(ls_line, self.messages()):
            self.caps_available |= {c.split("=", 1)[0] for c in m.params[-1].split()}
        if caps:
            mark = self.mark()
            await self.send(f"CAP REQ :{' '.join(caps)}")
            reply = await self.wait_for(
                lambda m: m.command == "CAP" and len(m.params) > 2
                and m.params[1].upper() in ("ACK", "NAK"), timeout, mark)
            if reply.params[1].upper() == "ACK":
                self.caps_enabled |= {c.lstrip("-") for c in reply.params[-1].split()
                                      if not c.startswith("-")}
        await self.send("CAP END")

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                data = await self._reader.readline()
                if not data:
                    break
                line = data.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("PING"):
                    await self.send("PONG" + line[4:])
                async with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            async with self._cond:
                self.lines.append("")  # marks end of stream
                self._cond.notify_all()

    async def send(self, line: str) -> None:
        assert self._writer is not None
        self._writer.write(line.encode("utf-8") + b"\r\n")
        await self._writer.drain()

    def mark(self) -> int:
        """Index to pass as `since` so that only later lines count."""
        return len(self.lines)

    def messages(self, since: int = 0) -> list[Msg]:
        return [parse(x) for x in self.lines[since:] if x]

    async def wait_for(self, predicate: Callable[[Msg], bool], timeout: float = 20.0,
                       since: int = 0) -> Msg:
        """The first line from index `since` on for which predicate(Msg) is true."""
        seen = since

        def find() -> Msg | None:
            nonlocal seen
            for line in self.lines[seen:]:
                seen += 1
                if line and predicate(parse(line)):
                    return parse(line)
            return None

        async def waiter() -> Msg:
            async with self._cond:
                while True:
                    found = find()
                    if found is not None:
                        return found
                    await self._cond.wait()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            tail = "\n".join(self.lines[-15:])
            raise AssertionError(f"no matching line within {timeout} s; last lines:\n{tail}")\
                from None

    async def join(self, channel: str, timeout: float = 20.0) -> None:
        since = self.mark()
        await self.send(f"JOIN {channel}")
        await self.wait_for(lambda m: m.command == "366" and len(m.params) > 1
                            and m.params[1].lower() == channel.lower(), timeout, since)

    async def say(self, target: str, text: str) -> None:
        await self.send(f"PRIVMSG {target} :{text}")

    async def wait_privmsg(self, sender: str, target: str, timeout: float = 20.0,
                           since: int = 0, contains: str = "") -> Msg:
        return await self.wait_for(
            lambda m: m.command == "PRIVMSG" and m.nick.lower() == sender.lower()
            and m.params[0].lower() == target.lower() and contains in m.params[-1],
            timeout, since)

    async def close(self, message: str = "bye") -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self.send(f"QUIT :{message}")
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def is_cmd(command: str, *params: str) -> Callable[[Msg], bool]:
    """Predicate: ``command`` whose first params equal ``params`` (case-insensitively)."""
    def check(m: Msg) -> bool:
        return m.command == command and [p.lower() for p in m.params[:len(params)]] == [
            p.lower() for p in params]
    return check
