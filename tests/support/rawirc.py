"""A small raw IRC client for tests: connect, join, send, wait_for a received line."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

_LINE = re.compile(r"^(?::(?P<prefix>\S+) +)?(?P<command>\S+)(?P<rest>.*)$")


@dataclass(frozen=True)
class Msg:
    """One parsed line: prefix (may be ''), upper-case command, params (trailing last)."""

    raw: str
    prefix: str
    command: str
    params: tuple[str, ...]

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]


def parse(line: str) -> Msg:
    if line.startswith("@"):
        line = line.split(" ", 1)[1] if " " in line else ""
    m = _LINE.match(line)
    if not m:
        return Msg(line, "", "", ())
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
    return Msg(line, m.group("prefix") or "", m.group("command").upper(), tuple(params))


class RawIrc:
    """Observer client. Every received line is kept in `lines` (PINGs are answered)."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[str] = []
        self._cond = asyncio.Condition()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, host: str, port: int, nick: str, timeout: float = 20.0,
                      password: str | None = None) -> RawIrc:
        self = cls(nick)
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout)
        self._task = asyncio.create_task(self._read_loop())
        if password:
            await self.send(f"PASS {password}")
        await self.send(f"NICK {nick}")
        await self.send(f"USER {nick} 0 * :{nick} observer")
        await self.wait_for(lambda m: m.command == "001", timeout)
        return self

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
