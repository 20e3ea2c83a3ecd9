"""The outgoing HTTP client (SoundCloud, webhooks, `ntrbot poll`): httpx on its own transport.

One `httpx.AsyncClient` over httpx's `AsyncHTTPTransport` (httpcore, h11), HTTP/1.1 only,
with the shared verifying TLS context (`tls.https_context`). Only public httpx API is used:
`OutgoingTransport` is an `httpx.AsyncBaseTransport` that hands each request to the direct
transport, or to one through the proxy `proxy_for` names, so that

- a call is one request on the wire: httpcore's `retries=0` and no resend by anything else
  (the callers count attempts and back off themselves: soundcloud._send, webhooks);
- proxies come from HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY as before, while the
  client has `trust_env=False`: no ~/.netrc credentials, whatever the httpx version;
- the URL goes out byte for byte (httpx keeps a percent-encoded path and query as given);
- a response header block may be up to httpcore's 100 KB (h11 refuses more: a protocol error).
"""

from __future__ import annotations

import ssl
import urllib.request

import httpx

from ntrbot.soundcloud.tls import https_context

TIMEOUT = httpx.Timeout(15.0, connect=10.0)


def proxy_for(url: httpx.URL) -> str | None:
    """The proxy httpx's default transport would take from the environment for `url`:
    HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, unless NO_PROXY covers the host."""
    if urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all") or None


class OutgoingTransport(httpx.AsyncBaseTransport):
    """httpx's `AsyncHTTPTransport`, direct or through the environment's proxy for each URL."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context or https_context()
        self._direct = self._transport(None)
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    def _transport(self, proxy: str | None) -> httpx.AsyncHTTPTransport:
        # http2=False: httpcore sets the ALPN list on the context it is given (tls.py).
        return httpx.AsyncHTTPTransport(verify=self.ssl_context, trust_env=False, http1=True,
                                        http2=False, retries=0, proxy=proxy)

    def _for(self, request: httpx.Request) -> httpx.AsyncHTTPTransport:
        proxy = proxy_for(request.url)
        if proxy is None:
            return self._direct
        if proxy not in self._proxied:
            try:
                self._proxied[proxy] = self._transport(proxy)
            except (ValueError, ImportError, httpx.InvalidURL) as exc:  # socks5 w/o socksio
                raise httpx.ProxyError(f"unusable proxy in the environment: {exc}",
                                       request=request) from exc
        return self._proxied[proxy]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._direct, *self._proxied.values()):
            await transport.aclose()
        self._proxied.clear()


def http_client(user_agent: str, timeout: httpx.Timeout = TIMEOUT) -> httpx.AsyncClient:
    """The one outgoing HTTP client: httpx on `OutgoingTransport`, redirects followed."""
    return httpx.AsyncClient(transport=OutgoingTransport(), timeout=timeout, trust_env=False,
                             headers={"User-Agent": user_agent}, follow_redirects=True)
