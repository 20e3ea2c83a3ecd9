"""The HTTP server's own guards: a header-read deadline; parser errors as JSON with the headers."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler

from ntrbot.http.headers import add_security_headers

HEADER_TIMEOUT = 15.0

#: what a request aiohttp could not parse is told, by the parser's exception (first match)
_PARSE_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (LineTooLong, "request line or header too long"),
    (BadHttpMethod, "not an HTTP request"),
    (InvalidURLError, "invalid URL"),
    (InvalidHeader, "invalid header"),
)


def parse_error_text(status: int, exc: BaseException | None) -> str:
    """The JSON `error` for a request aiohttp's parser refused; never the request's own bytes
    (aiohttp's text quotes them)."""
    if status == 504:
        return "timed out"
    if status >= 500:
        return "internal error"  # as error_middleware says it
    for kind, text in _PARSE_ERRORS:
        if isinstance(exc, kind):
            return text
    return "request entity too large" if status == 413 else "malformed HTTP request"


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler, closing a connection whose request head is not complete
    `header_timeout` seconds after its first byte (or after the connection opened).

    aiohttp has no such limit: a client sending a header line now and then (slowloris)
    keeps a connection for as long as it likes.
    """

    header_timeout = HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._heads_at_deadline = 0

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._heads_at_deadline = self._request_count
            self._head_deadline = self._loop.call_later(self.header_timeout, self._head_late)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_late(self) -> None:
        self._head_deadline = None
        if self._request_count == self._heads_at_deadline and not self._upgraded:
            self.force_close()  # no complete request head within the deadline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count != heads or self._upgraded:
            self._disarm()  # a head is complete (or the connection is a WebSocket now)
        elif data and not self._request_in_progress and not self._messages:
            self._arm()  # the first bytes of the next request head on a kept-alive connection

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """A request aiohttp could not parse (400, 413 ...) gets a JSON error, as every other
        error does, and the security headers. aiohttp's own handler still logs it (serve.py
        makes that one INFO line) and refuses when a response is already under way."""
        super().handle_error(request, status, exc, message)
        response = web.json_response({"error": parse_error_text(status, exc)}, status=status)
        response.force_close()
        add_security_headers(response.headers)
        return response


class _GuardedServer(web.Server):
    """web.Server making GuardedRequestHandler connections."""

    header_timeout = HEADER_TIMEOUT

    def __call__(self) -> RequestHandler:
        handler = GuardedRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.header_timeout = self.header_timeout
        return handler


class GuardedAppRunner(web.AppRunner):
    """web.AppRunner whose connections have the header-read deadline (`header_timeout`)."""

    def __init__(self, app: web.Application, *, header_timeout: float = HEADER_TIMEOUT,
                 **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _GuardedServer  # same state, our handler class
        assert isinstance(server, _GuardedServer)
        server.header_timeout = self.header_timeout
        return server
