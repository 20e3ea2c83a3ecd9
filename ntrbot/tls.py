"""The one verified TLS client context for outgoing HTTPS (SoundCloud), shared with aiohttp's."""

from __future__ import annotations

import functools
import os
import ssl

from aiohttp import connector


@functools.cache
def https_context() -> ssl.SSLContext:
    """A verifying client context offering ALPN http/1.1, built once per process.

    Loading a CA store costs ~80 ms of CPU and ~1.5 MB. aiohttp already loads the system
    store at import (its `_SSL_CONTEXT_VERIFIED`, made by `ssl.create_default_context()`
    with ALPN http/1.1), so httpx reuses that one instead of loading certifi's bundle as
    well. Where the system store is empty (a container without ca-certificates), certifi's
    bundle is used, as httpx would by default.

    The context may be aiohttp's own: never mutate it, and never hand it to an httpx client
    with `http2=True` (httpcore would then offer h2 on aiohttp's connections too).
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

    Certificates in a `capath` directory (SSL_CERT_DIR) are looked up per handshake, so
    they never show in the store's statistics; an existing directory counts as a store.
    """
    if ctx.cert_store_stats().get("x509_ca") or ctx.get_ca_certs():
        return True
    paths = ssl.get_default_verify_paths()
    return any(_nonempty_dir(d) for d in (os.environ.get(paths.openssl_capath_env), paths.capath))


def _nonempty_dir(path: str | None) -> bool:
    if not path or not os.path.isdir(path):
        return False
    with os.scandir(path) as entries:
        return any(True for _ in entries)


def _certifi_context() -> ssl.SSLContext:
    import certifi  # httpx's own dependency; only needed without a system CA store

    ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
