"""Start-up failures are one line, and malformed client requests never log a traceback."""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from ntrbot.serve import _QuietBadRequests, serve
from tests.support.constants import ADMIN_TOKEN
from tests.support.net import free_port
from tests.support.process import NtrbotProcess

_CLOSED = f"http://127.0.0.1:{free_port()}"
NOWHERE = {"NTR_SOUNDCLOUD_API_BASE": _CLOSED, "NTR_SOUNDCLOUD_WEB_BASE": _CLOSED}


def run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("NTR_")}
    return subprocess.run([sys.executable, "-m", "ntrbot"], cwd=tmp_path, text=True,
                          env={**clean, "NTR_ADMIN_TOKEN": ADMIN_TOKEN, **NOWHERE, **env},
                          capture_output=True, timeout=60)


def test_busy_port_is_one_line_and_nothing_claims_to_listen(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run(tmp_path, {"NTR_PORT": str(port), "NTR_DB_PATH": str(tmp_path / "x.db")})
    assert proc.returncode == 1
    assert f"ntrbot: cannot listen on 127.0.0.1:{port}: Address already in use" in proc.stderr
    assert "listening" not in proc.stderr and "Traceback" not in proc.stderr


def test_unopenable_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()  # a directory where the database file should be
    proc = run(tmp_path, {"NTR_PORT": str(free_port()), "NTR_DB_PATH": str(tmp_path / "dir.db")})
    assert proc.returncode == 1, proc.stderr
    assert "ntrbot: cannot open database" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_request_record_becomes_one_info_line() -> None:
    from aiohttp.http_exceptions import BadHttpMessage

    try:
        raise BadHttpMessage("Content-Length: abc")
    except BadHttpMessage:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                                   "Error handling request", None, sys.exc_info())
    assert _QuietBadRequests().filter(record)
    assert record.levelno == logging.INFO and record.exc_info is None
    assert "Content-Length" in record.getMessage()


@pytest.mark.e2e
async def test_malformed_request_against_the_real_process(tmp_path: Path) -> None:
    bot = await NtrbotProcess(tmp_path, {"NTR_ADMIN_TOKEN": ADMIN_TOKEN}).start()
    try:
        with socket.create_connection(("127.0.0.1", bot.port)) as s:
            s.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
            assert b" 400 " in s.recv(1000).split(b"\r\n")[0]
    finally:
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log() and "ERROR" not in bot.log()


async def test_start_up_objects_are_frozen_out_of_the_collector() -> None:
    """Once listening, what start-up made is frozen: CPython's full collection waits for the
    oldest generation to grow by a quarter, and ~10^5 start-up objects there kept the cycles
    each closed connection leaves (aiohttp, asyncio) uncollected night after night."""
    app = web.Application()
    seen: list[int] = []
    gc.unfreeze()

    def ready() -> None:
        seen.append(gc.get_freeze_count())
        os.kill(os.getpid(), signal.SIGINT)  # serve()'s own handler: a clean stop

    try:
        assert await serve(app, "127.0.0.1", free_port(), ready) == 0
    finally:
        gc.unfreeze()
    assert seen and seen[0] > 1000
