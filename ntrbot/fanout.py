"""One WebSocket fan-out: bounded outbox and one sender task per subscriber, per-use policy.

Pure asyncio: a socket is anything with `send_str`, `close` and `closed` (aiohttp's
`web.WebSocketResponse` is one), its request anything with a `transport`."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
FAST_SEND = 16 * 1024  # bytes still unsent to a subscriber below which a send cannot block
CLOSE_TIMEOUT = 2.0  # seconds a close handshake may take before it is given up


class Socket(Protocol):
    """What the fan-out uses of a WebSocket (aiohttp's `web.WebSocketResponse`)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


class Upgrade(Protocol):
    """What the fan-out uses of the request a socket came from (aiohttp's `web.Request`):
    its transport, to write prebuilt frames to and to abort."""

    @property
    def transport(self) -> asyncio.Transport | None: ...


class Overflow(enum.Enum):
    """What a full outbox does with one more message."""

    DROP_SUBSCRIBER = "drop-subscriber"  # the subscriber is dropped (it cannot keep up)
    RESYNC = "resync"  # the outbox is replaced by one resync message
    DROP_OLDEST = "drop-oldest"  # the oldest queued message makes room


@dataclass(frozen=True)
class Policy:
    """How one use of `Fanout` queues, sends and gives up on a subscriber.

    `slow_close` is the (code, reason) a dropped subscriber is closed with; with `abort`
    its connection is aborted instead when there is a transport (no close handshake).
    `first` is sent before anything else, `ping` = (seconds, text) when idle that long.
    `preframed`: `publish` writes one prebuilt frame straight to each subscriber whose
    socket is idle and not backed up (the socket must be opened with compress=False).
    """

    overflow: Overflow
    queue_size: int = 64
    send_timeout: float = 10.0
    slow_close: tuple[int, bytes] = (1013, b"too slow")
    abort: bool = False
    resync: str = ""
    compact: bool = False
    preframed: bool = False
    ping: tuple[float, str] | None = None


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455): the same bytes for every
    subscriber, so a message is framed once however many there are."""
    data = text.encode("utf-8")
    n = len(data)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + data


async def close_socket(ws: Socket, code: int, reason: bytes) -> None:
    """Close `ws` with `code`, waiting at most CLOSE_TIMEOUT for the peer; never raises."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code=code, message=reason), CLOSE_TIMEOUT)


class Subscriber(Generic[T]):
    """One socket, its bounded outbox, its "latest value" slot and its one sender task.

    `meta` is what the use knows about it (a relay's name, a peer, a session id).
    """

    def __init__(self, ws: Socket, meta: T, request: Upgrade | None,
                 queue_size: int, first: str | None = None) -> None:
        self.ws = ws
        self.meta = meta
        self.request = request
        self.outbox: deque[str] = deque()
        self.queue_size = queue_size
        self.first = first
        self.latest: str | None = None
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # the sender task is in the middle of a send
        self.dropped = False

    @property
    def done(self) -> bool:
        """The sender task has ended (the socket failed or was dropped)."""
        return self.task is not None and self.task.done()

    def writable_now(self) -> asyncio.Transport | None:
        """The transport, when a frame can be written to it at once and in order: nothing
        queued or being sent, and the socket not backed up."""
        if self.outbox or self.busy or self.first is not None or self.request is None:
            return None
        transport = self.request.transport
        if transport is None or transport.is_closing():
            return None
        if transport.get_write_buffer_size() >= FAST_SEND:
            return None
        return transport

    def offer(self, text: str) -> bool:
        """Queue one message when there is room (no overflow policy); False when full."""
        if len(self.outbox) >= self.queue_size:
            return False
        self.outbox.append(text)
        self.wake.set()
        return True

    def set_latest(self, text: str) -> None:
        """Replace the pending "latest value" message; it goes out before the outbox."""
        self.latest = text
        self.wake.set()

    def next_message(self) -> str | None:
        if self.first is not None:
            text, self.first = self.first, None
            return text
        if self.latest is not None:
            text, self.latest = self.latest, None
            return text
        return self.outbox.popleft() if self.outbox else None


class Fanout(Generic[T]):
    """The subscribers of one socket route and the fan-out of messages to them.

    `publish` never awaits a socket: it writes a prebuilt frame (`Policy.preframed`) or
    appends to each bounded outbox, applying `Policy.overflow` when one is full. Each
    subscriber's sender task drains its outbox; a send that fails or takes longer than
    `send_timeout` drops the subscriber. `on_leave` is called once per subscriber leaving.
    """

    def __init__(self, policy: Policy, name: str = "ws",
                 on_leave: Callable[[Subscriber[T]], None] | None = None) -> None:
        self.policy = policy
        self.name = name
        self.on_leave = on_leave
        self.subscribers: set[Subscriber[T]] = set()
        self.closing = False
        self._closes: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.subscribers)

    def encode(self, message: Any) -> str:
        if self.policy.compact:
            return json.dumps(message, separators=(",", ":"))
        return json.dumps(message)

    # --- joining and leaving ---------------------------------------------------

    def join(self, ws: Socket, meta: T, request: Upgrade | None = None,
             first: str | None = None) -> Subscriber[T]:
        """Add a subscriber and start its sender task (`first` is its first message)."""
        sub = Subscriber(ws, meta, request, self.policy.queue_size, first)
        sub.task = asyncio.create_task(self._sender(sub))
        self.subscribers.add(sub)
        return sub

    def leave(self, sub: Subscriber[T]) -> bool:
        """Forget `sub` and stop its sender; False when it had already left."""
        if sub not in self.subscribers:
            return False
        self.subscribers.discard(sub)
        if sub.task is not None and sub.task is not asyncio.current_task():
            sub.task.cancel()
        if self.on_leave is not None:
            self.on_leave(sub)
        return True

    def drop(self, sub: Subscriber[T]) -> None:
        """Forget `sub` and end its connection without waiting for it: aborted (`abort`,
        when there is a transport) or closed with `slow_close` in the background."""
        sub.dropped = True
        self.leave(sub)
        transport = sub.request.transport if sub.request is not None else None
        if self.policy.abort and transport is not None:
            transport.abort()
        else:
            self.close_later(sub.ws, *self.policy.slow_close)

    def close_later(self, ws: Socket, code: int, reason: bytes) -> None:
        """A timed close run in the background, never awaited by the caller."""
        task = asyncio.ensure_future(close_socket(ws, code, reason))
        self._closes.add(task)
        task.add_done_callback(self._closes.discard)

    # --- sending -----------------------------------------------------------------

    def publish(self, message: Any) -> list[Subscriber[T]]:
        """Serialize `message` once and queue it for every subscriber; those it reached."""
        return self.publish_text(self.encode(message))

    def publish_text(self, text: str) -> list[Subscriber[T]]:
        """Queue `text` for every subscriber (O(1) each, no await); those it reached."""
        policy = self.policy
        frame = text_frame(text) if policy.preframed else b""
        reached: list[Subscriber[T]] = []
        for sub in list(self.subscribers):
            if policy.preframed:
                transport = sub.writable_now()
                if transport is not None:
                    transport.write(frame)  # no task switch, no timer: the common case
                    reached.append(sub)
                    continue
            if len(sub.outbox) < sub.queue_size:
                sub.outbox.append(text)
            elif policy.overflow is Overflow.DROP_SUBSCRIBER:
                log.warning("%s subscriber %s is not keeping up; dropped", self.name, sub.meta)
                self.drop(sub)
                continue
            elif policy.overflow is Overflow.RESYNC:
                sub.outbox.clear()
                sub.outbox.append(policy.resync)
            else:
                sub.outbox.popleft()
                sub.outbox.append(text)
            sub.wake.set()
            reached.append(sub)
        return reached

    def set_latest(self, text: str) -> None:
        """Give every subscriber `text` as its pending "latest value" (the newest wins)."""
        for sub in self.subscribers:
            sub.set_latest(text)

    async def _idle(self, sub: Subscriber[T]) -> None:
        sub.wake.clear()
        ping = self.policy.ping
        if ping is None:
            await sub.wake.wait()
            return
        try:
            await asyncio.wait_for(sub.wake.wait(), ping[0])
        except TimeoutError:
            await asyncio.wait_for(sub.ws.send_str(ping[1]), self.policy.send_timeout)

    async def _sender(self, sub: Subscriber[T]) -> None:
        try:
            while not sub.ws.closed:
                text = sub.next_message()
                if text is None:
                    await self._idle(sub)
                    continue
                sub.busy = True
                try:
                    await asyncio.wait_for(sub.ws.send_str(text), self.policy.send_timeout)
                finally:
                    sub.busy = False
        except TimeoutError:
            log.warning("%s subscriber %s stuck for %.0f s; dropped", self.name, sub.meta,
                        self.policy.send_timeout)
            self.drop(sub)
        except (ConnectionError, RuntimeError) as exc:
            log.info("%s subscriber %s gone (%s)", self.name, sub.meta, type(exc).__name__)
            self.drop(sub)
        except asyncio.CancelledError:
            pass

    # --- closing -----------------------------------------------------------------

    async def close(self, sub: Subscriber[T], code: int, reason: bytes) -> None:
        """Close one subscriber's socket (timed); it leaves when its handler ends."""
        await close_socket(sub.ws, code, reason)

    async def close_all(self, code: int = 1001, reason: bytes = b"server shutdown") -> None:
        """On shutdown: refuse joins, stop every sender, close every socket (each timed)."""
        self.closing = True
        subs = list(self.subscribers)
        for sub in subs:
            self.leave(sub)
        await asyncio.gather(*(close_socket(s.ws, code, reason) for s in subs),
                             return_exceptions=True)
