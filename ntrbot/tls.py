"""The one verified TLS client context for outgoing HTTPS (SoundCloud), shared with aiohttp's."""

from __future__ import annotations

import functools
import os
import re
import ssl

from aiohttp import connector

_HASHED = re.compile(r"[0-9a-f]{8}\.r?[0-9]+")

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
    if not _has_cas(ctx):
        ctx = _certifi_context()
    return ctx


def _has_cas(ctx: ssl.SSLContext) -> bool:
    """True when the context can verify: CAs loaded, or an OpenSSL hashed CA directory.

    Certificates in a `capath` directory (default, or $SSL_CERT_DIR) are looked up per
    handshake, so they never show in the store's statistics; a directory holding at least
    one file OpenSSL would look up (`<8 hex digits>.<n>`, as c_rehash names them) counts.
    """
    if ctx.cert_store_stats().get("x509_ca") or ctx.get_ca_certs():
        return True
    return _has_hashed_certs(ssl.get_default_verify_paths().capath)


def _has_hashed_certs(path: str | None) -> bool:
    if not path:
        return False
    try:
        with os.scandir(path) as entries:
            return any(_HASHED.fullmatch(e.name) and e.is_file() for e in entries)
    except OSError:
        return False


def _certifi_context() -> ssl.SSLContext:
    import certifi  # httpx's own dependency; only needed without a system CA store

    ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
