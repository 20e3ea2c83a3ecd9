"""The one verified TLS client context for outgoing HTTPS (SoundCloud), shared with aiohttp's."""

from __future__ import annotations

import functools
import ssl

from aiohttp import connector

from ntrbot.castore import has_cas, load_fallback_cas


@functools.cache
def https_context() -> ssl.SSLContext:
    """A verifying client context offering ALPN http/1.1, built once per process.

    Loading a CA store costs ~80 ms of CPU and ~1.5 MB. aiohttp already loads the system
    store at import (its `_SSL_CONTEXT_VERIFIED`, made by `ssl.create_default_context()`
    with ALPN http/1.1), so httpx reuses that one instead of loading certifi's bundle as
    well. Where the system store is empty (a container without ca-certificates), certifi's
    bundle is used, as httpx would by default.

    The context may be aiohttp's own: change nothing on it, and never hand it to an httpx
    client with `http2=True` (httpcore sets the ALPN list on the context it is given at each
    connection; with HTTP/2 on it would offer h2 on aiohttp's connections too).
    """
    ctx = getattr(connector, "_SSL_CONTEXT_VERIFIED", None)
    if not (isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
            and ctx.check_hostname):
        ctx = ssl.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
    if not has_cas(ctx):
        ctx = ssl.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
        load_fallback_cas(ctx)
    return ctx
