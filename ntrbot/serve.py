"""Running an app until SIGINT/SIGTERM, and logging that stays one line per event."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ntrbot.http.httpguard import GuardedAppRunner

log = logging.getLogger("ntrbot")


class StartupError(Exception):
    """A resource could not start; `str()` is the one line to show the operator."""


class _QuietBadRequests(logging.Filter):
    """aiohttp logs a malformed client request as an ERROR with a traceback: any client on
    the internet could fill the journal with them. Make each one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "bad HTTP request from a client: %s", (exc.message,)
            record.exc_info = record.exc_text = None
        return True


def setup_logging(level: str) -> None:
    """Log to stderr; no timestamps under systemd (journald adds its own)."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format=fmt)
    # httpx logs every request URL at INFO, and SoundCloud URLs carry the client id.
    for name in ("httpx", "httpcore", "aiosqlite"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(_QuietBadRequests())


def settle_garbage_collector() -> None:
    """After start-up, freeze what imports and start-up made (modules, classes, settings:
    they live as long as the process) out of the collector's reach.

    CPython runs a full collection only when the objects that survived into the oldest
    generation grew by a quarter of those already there; start-up leaves some 10^5 such
    objects, so the reference cycles that aiohttp and asyncio leave behind each closed
    connection waited for tens of thousands of them, show night after show night (the
    soak's RSS crept up ~0.3 MB a night). Frozen, they no longer count: full collections
    come as often as the running process needs, and each one skips the frozen heap."""
    gc.collect()
    gc.freeze()


async def serve(app: web.Application, host: str, port: int,
                ready: Callable[[], None]) -> int:
    """Start `app`, listen, call `ready()`, run until SIGINT/SIGTERM, stop in reverse order.

    Returns the exit code: 0 after a clean stop, 1 when it could not start (one line on
    stderr, no traceback).
    """
    # GuardedAppRunner: connections that have not sent a whole request head in 15 s close
    runner = GuardedAppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    try:
        try:
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
        except StartupError as exc:
            print(f"ntrbot: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            print(f"ntrbot: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        settle_garbage_collector()
        ready()
        await stop.wait()
        log.info("stopping")
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
    return 0
