"""Where a verifying TLS context gets CAs when OpenSSL's default store is empty: certifi."""

from __future__ import annotations

import logging
import os
import re
import ssl

log = logging.getLogger("ntrbot.tls")

_HASHED = re.compile(r"[0-9a-f]{8}\.r?[0-9]+")


def has_cas(ctx: ssl.SSLContext) -> bool:
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


def load_fallback_cas(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """Load certifi's bundle into `ctx` when it has no CAs (a container without
    ca-certificates; the one-file binary, whose OpenSSL looks where its build machine keeps
    them); returns `ctx`."""
    if not has_cas(ctx):
        import certifi  # only needed without a system CA store

        ctx.load_verify_locations(cafile=certifi.where())
        log.info("no system CA certificates found: verifying with certifi's bundle")
    return ctx
