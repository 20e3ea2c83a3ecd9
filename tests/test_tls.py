"""The shared HTTPS context: verifying, one per process, aiohttp's CA store reused."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from aiohttp import connector

from ntrbot import tls


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    tls.https_context.cache_clear()
    yield
    tls.https_context.cache_clear()


def assert_verifying(ctx: ssl.SSLContext) -> None:
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0 or ctx.get_ca_certs()


def test_reuses_aiohttp_verified_context_once() -> None:
    ctx = tls.https_context()
    assert_verifying(ctx)
    assert ctx is tls.https_context()
    assert ctx is connector._SSL_CONTEXT_VERIFIED


def test_builds_its_own_when_aiohttp_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(connector, "_SSL_CONTEXT_VERIFIED")
    ctx = tls.https_context()
    assert_verifying(ctx)


def test_never_takes_an_unverified_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", connector._SSL_CONTEXT_UNVERIFIED)
    ctx = tls.https_context()
    assert ctx is not connector._SSL_CONTEXT_UNVERIFIED
    assert_verifying(ctx)


def test_empty_system_store_falls_back_to_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifying, but no CA loaded
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", empty)
    ctx = tls.https_context()
    assert ctx is not empty
    assert_verifying(ctx)
