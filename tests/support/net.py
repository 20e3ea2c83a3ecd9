"""Waiting helpers: a free loopback port and a bounded poll until a condition holds."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def wait_until(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 30.0,
                     what: str = "condition", *, interval: float = 0.05) -> Any:
    """Await `predicate()` (sync or async) until truthy; return its value or raise.

    A bounded wait, never a wall-clock assertion: TimeoutError after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)
