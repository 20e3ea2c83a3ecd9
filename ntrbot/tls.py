"""The one verified TLS client context for outgoing HTTPS (SoundCloud), shared with aiohttp's."""

from __future__ import annotations

import functools
import ssl

from aiohttp import connector


@functools.cache
def https_context() -> ssl.SSLContext:
    """A verifying client context offering ALPN http/1.1, built once per process.

    Loading a CA store costs ~80 ms of CPU and ~1.5 MB. aiohttp already loads the system
    store at import (its `_SSL_CONTEXT_VERIFIED`, made by `ssl.create_default_context()`),
    so httpx reuses that one instead of loading certifi's bundle as well. Where the system
    store is empty (a container without ca-certificates), certifi's bundle is used, as
    httpx would by default.
    """
    ctx = getattr(connector, "_SSL_CONTEXT_VERIFIED", None)
    if not (isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
            and ctx.check_hostname):
        ctx = ssl.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
    if not ctx.cert_store_stats().get("x509_ca") and not ctx.get_ca_certs():
        ctx = _certifi_context()
    return ctx


def _certifi_context() -> ssl.SSLContext:
    import certifi  # httpx's own dependency; only needed without a system CA store

    ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
