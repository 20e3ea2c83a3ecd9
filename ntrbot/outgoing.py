"""The outgoing HTTP client (SoundCloud, webhooks): httpx's API over aiohttp's client.

httpx's own transport (httpcore, h11, anyio's asyncio backend) costs about 3.5 MB of
resident memory on the first request; aiohttp's client is already in the process (aiohttp
imports it with its server), so `AiohttpTransport` carries httpx requests on it instead.
Everything above the transport stays httpx's: timeouts, redirects, cookies, decoding of a
compressed body, its exceptions (`httpx.ConnectError`, `httpx.ReadTimeout` ...) — so the
code that retries on them reads the same.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request

import aiohttp
import httpx
import yarl

from .tls import https_context

TIMEOUT = httpx.Timeout(15.0, connect=10.0)
MAX_HEADER_LINE = 16 * 1024  # a response header line (h11, under httpx, allowed ~16 KB)


def proxy_for(url: httpx.URL) -> str | None:
    """The proxy httpx's default transport would take from the environment for `url`:
    HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, unless NO_PROXY covers the host."""
    if urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all") or None


def _client_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    t: dict[str, float | None] = request.extensions.get("timeout") or {}
    return aiohttp.ClientTimeout(total=None, sock_connect=t.get("connect"),
                                 sock_read=t.get("read"), connect=t.get("pool"))


def _as_httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception a failure of aiohttp's would have been in httpx's transport."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError,
                        asyncio.TimeoutError)):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                        aiohttp.ClientResponseError)):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, (aiohttp.ClientOSError, OSError)):
        return httpx.ReadError(message, request=request)
    return httpx.NetworkError(message, request=request)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport sending each request with one aiohttp `ClientSession`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context or https_context()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes the body, as with its own transport
                trust_env=False,  # no ~/.netrc credentials; proxies: `proxy_for`
                max_line_size=MAX_HEADER_LINE, max_field_size=MAX_HEADER_LINE)
            # aiohttp sends an idempotent request again, once, when the connection drops;
            # httpx's transport never did, and the callers count and retry attempts
            # themselves (soundcloud._send): one call, one request on the wire.
            session._retry_connection = False
            self._session = session
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in request.headers.raw]
        try:
            async with self._client().request(
                    request.method, yarl.URL(str(request.url), encoded=True),
                    data=body or None, headers=headers, proxy=proxy_for(request.url),
                    allow_redirects=False, timeout=_client_timeout(request),
                    skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
                    compress=None) as response:
                content = await response.read()
                raw_headers: list[tuple[bytes, bytes]] = list(response.raw_headers)
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _as_httpx_error(exc, request) from exc
        return httpx.Response(status, headers=raw_headers, stream=httpx.ByteStream(content),
                              request=request,
                              extensions={"http_version": b"HTTP/1.1",
                                          "reason_phrase": reason.encode("latin-1", "replace")})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def http_client(user_agent: str, timeout: httpx.Timeout = TIMEOUT) -> httpx.AsyncClient:
    """The one outgoing HTTP client: httpx's API on `AiohttpTransport`, redirects followed."""
    return httpx.AsyncClient(transport=AiohttpTransport(), timeout=timeout,
                             headers={"User-Agent": user_agent}, follow_redirects=True)
