"""The shared HTTPS context: verifying, one per process, aiohttp's CA store reused."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import connector

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.settings import Settings
from ntrbot.soundcloud import tls
from ntrbot.soundcloud.outgoing import OutgoingTransport

SYSTEM_CAS = bool(connector._SSL_CONTEXT_VERIFIED.cert_store_stats().get("x509_ca"))


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    tls.https_context.cache_clear()
    yield
    tls.https_context.cache_clear()


@pytest.fixture
def no_ca_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    """No default CA directory: only CAs a context lists count."""
    real = ssl.get_default_verify_paths()
    # (typeshed types capath as str; the ssl docs: None when there is no such directory)
    monkeypatch.setattr(ssl, "get_default_verify_paths",
                        lambda: real._replace(capath=cast(str, None)))


def ca_dir(path: Path, *names: str) -> Path:
    path.mkdir()
    for name in names:
        (path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    (path / "java").mkdir()
    return path


def assert_verifying(ctx: ssl.SSLContext) -> None:
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0 or ctx.get_ca_certs()


@pytest.mark.skipif(not SYSTEM_CAS, reason="this host has no system CA bundle file")
def test_reuses_aiohttp_verified_context_once() -> None:
    ctx = tls.https_context()
    assert_verifying(ctx)
    assert ctx is tls.https_context()
    assert ctx is connector._SSL_CONTEXT_VERIFIED


@pytest.mark.usefixtures("no_ca_dirs")
def test_builds_its_own_when_aiohttp_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(connector, "_SSL_CONTEXT_VERIFIED")
    assert_verifying(tls.https_context())


@pytest.mark.usefixtures("no_ca_dirs")
def test_never_takes_an_unverified_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", connector._SSL_CONTEXT_UNVERIFIED)
    ctx = tls.https_context()
    assert ctx is not connector._SSL_CONTEXT_UNVERIFIED
    assert_verifying(ctx)


@pytest.mark.usefixtures("no_ca_dirs")
def test_empty_system_store_falls_back_to_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifying, but no CA loaded
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", empty)
    ctx = tls.https_context()
    assert ctx is not empty
    assert_verifying(ctx)


@pytest.mark.parametrize(("names", "kept"), [
    (["0123abcd.0"], True), (["0123abcd.1", "README"], True), (["0123abcd.r0"], True),
    (["myca.pem"], False), ([], False), (["0123abcd.pem", "0123abc.0"], False),
])
def test_only_a_hashed_ca_directory_counts_as_a_store(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, names: list[str],
                                                      kept: bool) -> None:
    """A directory-only store lists no CAs until a handshake: keep it, but only if OpenSSL
    would find certificates in it (c_rehash names), else fall back to certifi."""
    certs = ca_dir(tmp_path / "certs", *names)
    monkeypatch.setenv(ssl.get_default_verify_paths().openssl_capath_env, str(certs))
    dir_only = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", dir_only)
    ctx = tls.https_context()
    assert (ctx is dir_only) is kept
    if not kept:
        assert_verifying(ctx)


async def test_app_http_client_uses_the_shared_context(
        settings: Settings, aiohttp_client: Any) -> None:
    app = create_app(settings)
    await aiohttp_client(app)
    transport = app[keys.HTTP]._transport
    assert isinstance(transport, OutgoingTransport)
    assert transport.ssl_context is tls.https_context()


def test_irc_tls_falls_back_to_certifi_without_a_system_store(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A server without ca-certificates, or the one-file binary on a distribution that keeps
    its CAs elsewhere than the build machine: NTR_IRC_TLS still verifies, with certifi."""
    from ntrbot.irc import transport

    paths = ssl.get_default_verify_paths()
    monkeypatch.setenv(paths.openssl_cafile_env, str(tmp_path / "none.pem"))
    monkeypatch.setenv(paths.openssl_capath_env, str(tmp_path / "no-dir"))
    assert not ssl.create_default_context().cert_store_stats()["x509_ca"]
    transport.tls_context.cache_clear()
    try:
        with caplog.at_level("INFO", "ntrbot.tls"):
            assert_verifying(transport.tls_context(verify=True))
        assert "certifi" in caplog.text
        assert not transport.tls_context(verify=False).cert_store_stats()["x509_ca"]
    finally:
        transport.tls_context.cache_clear()
