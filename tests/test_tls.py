"""The shared HTTPS context: verifying, one per process, aiohttp's CA store reused."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import connector, web

from ntrbot import keys, tls
from ntrbot.app import create_app
from ntrbot.config import Settings

SYSTEM_CAS = bool(connector._SSL_CONTEXT_VERIFIED.cert_store_stats().get("x509_ca"))


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    tls.https_context.cache_clear()
    yield
    tls.https_context.cache_clear()


@pytest.fixture
def no_ca_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the OpenSSL default CA directory at an empty one; return it."""
    empty = tmp_path / "certs"
    empty.mkdir()
    real = ssl.get_default_verify_paths()
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: real._replace(capath=str(empty)))
    monkeypatch.delenv(real.openssl_capath_env, raising=False)
    return empty


def assert_verifying(ctx: ssl.SSLContext) -> None:
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0 or ctx.get_ca_certs()


@pytest.mark.skipif(not SYSTEM_CAS, reason="this host has no system CA bundle file")
def test_reuses_aiohttp_verified_context_once() -> None:
    ctx = tls.https_context()
    assert_verifying(ctx)
    assert ctx is tls.https_context()
    assert ctx is connector._SSL_CONTEXT_VERIFIED


def test_builds_its_own_when_aiohttp_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(connector, "_SSL_CONTEXT_VERIFIED")
    ctx = tls.https_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_never_takes_an_unverified_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", connector._SSL_CONTEXT_UNVERIFIED)
    ctx = tls.https_context()
    assert ctx is not connector._SSL_CONTEXT_UNVERIFIED
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_empty_system_store_falls_back_to_certifi(monkeypatch: pytest.MonkeyPatch,
                                                  no_ca_dirs: Path) -> None:
    empty = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifying, but no CA loaded
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", empty)
    ctx = tls.https_context()
    assert ctx is not empty
    assert_verifying(ctx)


@pytest.mark.parametrize("via_env", [False, True], ids=["capath", "SSL_CERT_DIR"])
def test_hashed_ca_directory_counts_as_a_store(monkeypatch: pytest.MonkeyPatch,
                                               no_ca_dirs: Path, tmp_path: Path,
                                               via_env: bool) -> None:
    """A directory-only store (no bundle file) lists no CAs until a handshake; keep it."""
    certs = tmp_path / "hashed"
    certs.mkdir()
    (certs / "0123abcd.0").write_text("-----BEGIN CERTIFICATE-----\n")
    if via_env:
        monkeypatch.setenv(ssl.get_default_verify_paths().openssl_capath_env, str(certs))
    else:
        real = ssl.get_default_verify_paths()
        monkeypatch.setattr(ssl, "get_default_verify_paths",
                            lambda: real._replace(capath=str(certs)))
    dir_only = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", dir_only)
    assert tls.https_context() is dir_only


def test_httpx_client_keeps_http2_off() -> None:
    """The shared context must never be given to an HTTP/2 client (see tls.https_context)."""
    client = httpx.AsyncClient(verify=tls.https_context())
    pool = client._transport._pool
    assert pool._http2 is False and pool._http1 is True


async def test_app_http_client_uses_the_shared_context_without_http2(
        settings: Settings, make_client: Callable[[web.Application], Awaitable[Any]]) -> None:
    app = create_app(settings)
    await make_client(app)
    pool = app[keys.HTTP]._transport._pool
    assert pool._http2 is False
    assert pool._ssl_context is tls.https_context()
