"""Send queue: priority ahead of replies, flood limit, expiry, exactly-once; and SASL steps."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import pytest

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.caps import CapNegotiator
from ntrbot.irc.delivery import Delivery
from ntrbot.irc.flood import TokenBucket
from ntrbot.irc.sasl import Sasl, plain_payload
from ntrbot.irc.sendqueue import SendQueue
from tests.support.net import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def put(queue: SendQueue, target: str, line: str, *, priority: bool,
        fresh_for: float) -> Delivery | None:
    return queue.put(Delivery(target, line, priority=priority, fresh_for=fresh_for,
                              clock=queue.bucket.clock))


def recorder(sent: list[tuple[str, str]]) -> Callable[[Delivery], None]:
    def write(item: Delivery) -> None:
        sent.append((item.target, item.line))
        item.finish(DeliveryState.SENT)
    return write


class Run(Protocol):
    """The `runner` fixture: runs the queue's sender; returns the list of lines sent."""

    def __call__(self, queue: SendQueue, ready: Callable[[str], bool] = ...,
                 write: Callable[[Delivery], None] | None = None) -> list[tuple[str, str]]: ...


@pytest.fixture
async def runner() -> AsyncIterator[Run]:
    tasks: list[asyncio.Task[None]] = []

    def run(queue: SendQueue, ready: Callable[[str], bool] = lambda t: True,
            write: Callable[[Delivery], None] | None = None) -> list[tuple[str, str]]:
        sent: list[tuple[str, str]] = []
        task = asyncio.create_task(queue.run(ready, write or recorder(sent)))
        tasks.append(task)
        return sent

    yield run
    for t in tasks:
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t


async def test_priority_jumps_the_backlog(runner: Run) -> None:
    clock = Clock()
    queue = SendQueue(TokenBucket(burst=2, rate=1.0, clock=clock))
    sent = runner(queue)
    items = [put(queue, "#c", f"reply {i}", priority=False, fresh_for=60) for i in range(6)]
    await wait_until(lambda: len(sent) == 2, what="the burst")
    announce = put(queue, "#c", "ANNOUNCE", priority=True, fresh_for=60)
    assert announce is not None
    await asyncio.sleep(0.05)
    assert len(sent) == 2  # bucket empty: nothing more until tokens come back
    clock.now += 1.0
    queue.wake()
    await wait_until(lambda: len(sent) == 3, what="the announce")
    assert sent[2] == ("#c", "ANNOUNCE")
    assert await announce.done == "sent"
    for _ in range(1000):  # let tokens come back, one second per step
        if len(sent) == 7:
            break
        clock.now += 1.0
        queue.wake()
        await asyncio.sleep(0.01)
    assert [x for _, x in sent] == ["reply 0", "reply 1", "ANNOUNCE",
                                    "reply 2", "reply 3", "reply 4", "reply 5"]
    assert all(i.done.result() == "sent" for i in items if i)
    assert len(queue) == 0


async def test_not_ready_waits_then_sends_once(runner: Run) -> None:
    ready = {"#c": False}
    queue = SendQueue(TokenBucket(4, 10.0))
    sent = runner(queue, ready=lambda t: ready[t])
    item = put(queue, "#c", "hello", priority=True, fresh_for=60)
    assert item is not None
    await asyncio.sleep(0.05)
    assert sent == [] and len(queue) == 1 and not item.done.done()
    ready["#c"] = True
    queue.wake()
    assert await asyncio.wait_for(item.done, 10) == "sent"
    queue.wake()
    await asyncio.sleep(0.05)
    assert sent == [("#c", "hello")]


async def test_stale_line_expires_and_is_never_sent(runner: Run) -> None:
    ready = {"#c": False}
    queue = SendQueue(TokenBucket(4, 10.0))
    sent = runner(queue, ready=lambda t: ready[t])
    item = put(queue, "#c", "old news", priority=True, fresh_for=0.05)
    assert item is not None
    assert await asyncio.wait_for(item.done, 10) == "expired"
    assert len(queue) == 0
    ready["#c"] = True
    queue.wake()
    await asyncio.sleep(0.05)
    assert sent == []


async def test_write_error_fails_the_item_without_retry(runner: Run) -> None:
    calls: list[str] = []

    def write(item: Delivery) -> None:
        calls.append(item.line)
        raise OSError("broken pipe")

    queue = SendQueue(TokenBucket(4, 10.0))
    runner(queue, write=write)
    item = put(queue, "#c", "x", priority=False, fresh_for=60)
    assert item is not None
    assert await asyncio.wait_for(item.done, 10) == "failed"
    second = put(queue, "#c", "y", priority=False, fresh_for=60)
    assert second is not None
    assert await asyncio.wait_for(second.done, 10) == "failed"  # the sender lives on
    assert calls == ["x", "y"]


async def test_reply_queue_is_bounded_but_announces_are_not() -> None:
    queue = SendQueue(TokenBucket(1, 1.0), max_normal=3)
    assert all(put(queue, "#c", "r", priority=False, fresh_for=60) for _ in range(3))
    assert put(queue, "#c", "r", priority=False, fresh_for=60) is None
    assert put(queue, "#c", "a", priority=True, fresh_for=60) is not None
    queue.fail_all()
    assert len(queue) == 0


# --- SASL ------------------------------------------------------------------

class CapSasl:
    """CapNegotiator and Sasl wired as IrcClient wires them."""

    def __init__(self, sasl: Sasl, cap: CapNegotiator) -> None:
        self.sasl, self.cap = sasl, cap
        self.on_cap, self.on_unknown_command = cap.on_cap, cap.unknown_command
        self.on_authenticate, self.on_failure = sasl.on_authenticate, sasl.on_failure
        self.on_success = sasl.on_success

    @property
    def state(self) -> str:
        return self.sasl.state


def make_sasl(password: str = "s3cret") -> tuple[CapSasl, list[str], list[str]]:
    sent: list[str] = []
    errors: list[str] = []
    sasl = Sasl("bot", password, sent.append, errors.append)
    cap = CapNegotiator(sent.append, sasl=sasl)
    cap.begin()
    sasl.begin()
    return CapSasl(sasl, cap), sent, errors


def test_sasl_success_flow() -> None:
    sasl, sent, errors = make_sasl()
    sasl.on_cap(["LS", "*", "multi-prefix"])
    assert sent == []
    sasl.on_cap(["LS", "sasl=PLAIN,EXTERNAL away-notify"])
    assert sent == ["CAP REQ :sasl"]
    sasl.on_cap(["ACK", "sasl"])
    assert sent[-1] == "AUTHENTICATE PLAIN"
    sasl.on_authenticate("+")
    assert base64.b64decode(sent[-1].split()[1]) == b"bot\0bot\0s3cret"
    sasl.on_success()
    assert sent[-1] == "CAP END" and sasl.state == "done" and errors == []


@pytest.mark.parametrize("step", ["no-sasl", "nak", "904", "unknown-cap"])
def test_sasl_failures_end_cap_and_log_loudly(step: str, caplog: pytest.LogCaptureFixture) -> None:
    sasl, sent, errors = make_sasl()
    with caplog.at_level(logging.ERROR, logger="ntrbot.irc"):
        if step == "no-sasl":
            sasl.on_cap(["LS", "multi-prefix"])
        elif step == "unknown-cap":
            sasl.on_unknown_command("CAP")
        else:
            sasl.on_cap(["LS", "sasl=PLAIN"])
            if step == "nak":
                sasl.on_cap(["NAK", "sasl"])
            else:
                sasl.on_cap(["ACK", "sasl"])
                sasl.on_authenticate("+")
                sasl.on_failure("SASL authentication failed")
    if step != "unknown-cap":  # a server without CAP needs no CAP END
        assert sent[-1] == "CAP END" and sent.count("CAP END") == 1
    assert sasl.state == "failed" and errors and errors[0].startswith("SASL failed")
    assert any("SASL" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert "s3cret" not in caplog.text


def test_sasl_payload_chunks() -> None:
    assert plain_payload("u", "p") == [base64.b64encode(b"u\0u\0p").decode()]
    chunks = plain_payload("u" * 200, "p" * 200)
    assert [len(c) for c in chunks[:-1]] == [400] * (len(chunks) - 1)
    assert base64.b64decode("".join(chunks)) == (("u" * 200 + "\0") * 2 + "p" * 200).encode()
    # 300 bytes -> 400 base64 chars exactly -> a closing "+"
    assert plain_payload("a" * 99, "b" * 100)[-1] == "+"


async def test_send_now_writes_at_once_only_when_nothing_is_ahead() -> None:
    clock = Clock()
    queue = SendQueue(TokenBucket(2, 1.0, clock))
    sent: list[tuple[str, str]] = []
    write = recorder(sent)

    def line(text: str, priority: bool = True) -> Delivery:
        return Delivery("#c", text, priority=priority, clock=clock)

    first = line("first")
    assert queue.send_now(first, ready=lambda t: True, write=write)
    assert first.done.result() == "sent" and sent == [("#c", "first")]
    assert not queue.send_now(line("x"), ready=lambda t: False, write=write)
    put(queue, "#c", "reply", priority=False, fresh_for=60)
    # A reply waits behind the queued reply; an announce does not.
    assert not queue.send_now(line("reply 2", False), ready=lambda t: True, write=write)
    assert queue.send_now(line("announce"), ready=lambda t: True, write=write)
    # The bucket (burst 2) is empty now: nothing jumps the flood limit.
    assert not queue.send_now(line("more"), ready=lambda t: True, write=write)
    assert [text for _, text in sent] == ["first", "announce"]
