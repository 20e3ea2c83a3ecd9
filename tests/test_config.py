"""Settings: environment over TOML, one clear line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntrbot.config import load_settings
from ntrbot.settings import ConfigError, Settings, setting_names

BASE = {"NTR_ADMIN_TOKEN": "tok-0123456789abcdef"}


def test_defaults_match_spec() -> None:
    s = load_settings(BASE)
    assert (s.host, s.port, s.db_path) == ("127.0.0.1", 8000, "./ntrbot.db")
    assert s.soundcloud_user == "nicktherat"
    assert (s.poll_interval_seconds, s.live_poll_interval_seconds) == (3600, 60)
    assert s.soundcloud_api_base == "https://api-v2.soundcloud.com"
    assert s.soundcloud_web_base == "https://soundcloud.com"
    assert (s.show_day, s.show_hour, s.show_timezone, s.show_length_hours) == (
        2, 22, "America/New_York", 5)
    assert s.irc_server is None and s.irc_port == 6667 and s.irc_tls is False
    assert s.irc_nick == "ntrbot" and s.irc_channels == ("#sewerchat",)
    assert s.announce_channel == "#sewerchat"
    assert s.announce_format == (
        "Now Playing: Song #{position}: {title} by {artist} - {permalink_url}")
    assert not s.dashboard_enabled and not s.irc_enabled


def test_spec_names_exist() -> None:
    names = set(setting_names())
    for name in ["NTR_ADMIN_TOKEN", "NTR_HOST", "NTR_PORT", "NTR_DB_PATH", "NTR_SOUNDCLOUD_USER",
                 "NTR_POLL_INTERVAL_SECONDS", "NTR_LIVE_POLL_INTERVAL_SECONDS",
                 "NTR_SOUNDCLOUD_CLIENT_ID", "NTR_SOUNDCLOUD_API_BASE", "NTR_SOUNDCLOUD_WEB_BASE",
                 "NTR_SHOW_DAY", "NTR_SHOW_HOUR", "NTR_SHOW_TIMEZONE", "NTR_SHOW_LENGTH_HOURS",
                 "NTR_WEB_USER", "NTR_WEB_PASSWORD", "NTR_SECRET_KEY", "NTR_IRC_SERVER",
                 "NTR_IRC_PORT", "NTR_IRC_TLS", "NTR_IRC_NICK", "NTR_IRC_CHANNELS",
                 "NTR_ANNOUNCE_CHANNEL", "NTR_IRC_SASL_USER", "NTR_IRC_SASL_PASSWORD",
                 "NTR_IRC_ADMINS", "NTR_ANNOUNCE_FORMAT"]:
        assert name in names


def test_env_parsing() -> None:
    s = load_settings({**BASE, "NTR_PORT": "9000", "NTR_IRC_TLS": "yes",
                       "NTR_IRC_CHANNELS": " #a, #b ,", "NTR_IRC_ADMINS": "nick!*@*",
                       "NTR_WEB_USER": "nick", "NTR_WEB_PASSWORD": "pw",
                       "NTR_SECRET_KEY": "x" * 32, "NTR_IRC_SERVER": "irc.example"})
    assert s.port == 9000 and s.irc_tls is True
    assert s.irc_channels == ("#a", "#b") and s.irc_admins == ("nick!*@*",)
    assert s.dashboard_enabled and s.irc_enabled


def test_toml_file_and_env_wins(tmp_path: Path) -> None:
    f = tmp_path / "ntr.toml"
    f.write_text('admin_token = "fromfile-0123456789"\nport = 8100\nNTR_SHOW_HOUR = 21\n'
                 'irc_channels = ["#x", "#y"]\nirc_tls = true\n')
    s = load_settings({"NTR_PORT": "8200"}, config_file=str(f))
    assert s.admin_token == "fromfile-0123456789" and s.port == 8200 and s.show_hour == 21
    assert s.irc_channels == ("#x", "#y") and s.irc_tls is True


@pytest.mark.parametrize(("env", "setting"), [
    ({}, "NTR_ADMIN_TOKEN"),
    ({"NTR_ADMIN_TOKEN": ""}, "NTR_ADMIN_TOKEN"),
    ({**BASE, "NTR_PORT": "eighty"}, "NTR_PORT"),
    ({**BASE, "NTR_PORT": "70000"}, "NTR_PORT"),
    ({**BASE, "NTR_SHOW_DAY": "7"}, "NTR_SHOW_DAY"),
    ({**BASE, "NTR_SHOW_HOUR": "-1"}, "NTR_SHOW_HOUR"),
    ({**BASE, "NTR_SHOW_TIMEZONE": "Mars/Olympus"}, "NTR_SHOW_TIMEZONE"),
    ({**BASE, "NTR_IRC_TLS": "maybe"}, "NTR_IRC_TLS"),
    ({**BASE, "NTR_SECRET_KEY": "short"}, "NTR_SECRET_KEY"),
    ({**BASE, "NTR_POLL_INTERVAL_SECONDS": "0"}, "NTR_POLL_INTERVAL_SECONDS"),
    ({**BASE, "NTR_POLL_INTERVAL_SECONDS": "nan"}, "NTR_POLL_INTERVAL_SECONDS"),
    ({**BASE, "NTR_IRC_CHANNELS": "sewerchat"}, "NTR_IRC_CHANNELS"),
    ({**BASE, "NTR_ANNOUNCE_CHANNEL": "#a b"}, "NTR_ANNOUNCE_CHANNEL"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{nope}"}, "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{title"}, "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{position:099999999999999999999}"},
     "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{position:0999999999}"}, "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{title:d}"}, "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{duration_ms:d}"}, "NTR_ANNOUNCE_FORMAT"),  # manual
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{id:c}"}, "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_ANNOUNCE_FORMAT": "{title:{position}}"}, "NTR_ANNOUNCE_FORMAT"),
    ({**BASE, "NTR_IRC_NICK": "ntr\r\nQUIT"}, "NTR_IRC_NICK"),
    ({**BASE, "NTR_IRC_NICK": "1bot"}, "NTR_IRC_NICK"),
    ({**BASE, "NTR_IRC_NICK": "-bot"}, "NTR_IRC_NICK"),
    ({**BASE, "NTR_IRC_NICK": "bot:x"}, "NTR_IRC_NICK"),
    ({**BASE, "NTR_IRC_NICK": "b" * 31}, "NTR_IRC_NICK"),
    ({**BASE, "NTR_IRC_SASL_USER": "u"}, "NTR_IRC_SASL_PASSWORD"),
    ({**BASE, "NTR_SOUNDCLOUD_API_BASE": "ftp://x"}, "NTR_SOUNDCLOUD_API_BASE"),
    ({"NTR_ADMIN_TOKEN": "abcd1234"}, "NTR_ADMIN_TOKEN"),
    ({"NTR_ADMIN_TOKEN": "x" * 15}, "NTR_ADMIN_TOKEN"),
    ({**BASE, "NTR_RELAY_TOKENS": "relay-0123456789abcdef,short"}, "NTR_RELAY_TOKENS"),
    ({**BASE, "NTR_RELAY_TOKENS": BASE["NTR_ADMIN_TOKEN"]}, "NTR_RELAY_TOKENS"),
    ({**BASE, "NTR_TRUSTED_PROXIES": "10.0.0.0/8,nginx"}, "NTR_TRUSTED_PROXIES"),
])
def test_invalid_values_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    assert message.startswith(setting + ":") and "\n" not in message


def test_nicks_and_formats_that_work() -> None:
    for nick in ("ntrbot", "[ntr]bot", "b`_^{|}-9", "n" * 30):
        assert load_settings({**BASE, "NTR_IRC_NICK": nick}).irc_nick == nick
    for fmt in ("#{position:03} {title:.50} {artist!r:>20} {episode} {duration_ms}",
                "{title} {permalink_url:.80}"):
        assert load_settings({**BASE, "NTR_ANNOUNCE_FORMAT": fmt}).announce_format == fmt


def test_bad_toml_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("port = [\n")
    with pytest.raises(ConfigError) as info:
        load_settings(BASE, config_file=str(f))
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown setting"):
        f.write_text('prot = 1\n')
        load_settings(BASE, config_file=str(f))
    with pytest.raises(ConfigError, match="not found"):
        load_settings(BASE, config_file=str(tmp_path / "missing.toml"))


def test_masked_hides_secrets() -> None:
    s = Settings(admin_token="supersecret-token", web_password="pw", secret_key="k" * 32,
                 irc_sasl_password="sasl", irc_sasl_user="u")
    text = repr(s.masked())
    for secret in ("supersecret", "'pw'", "kkkk", "sasl'"):
        assert secret not in text
    assert s.masked()["NTR_ADMIN_TOKEN"] == "***"


def _pem_pair(tmp_path: Path) -> tuple[Path, Path]:
    from tests.support.certs import make_cert
    cert, key = make_cert(tmp_path, "client", separate_key=True)
    assert key is not None
    return cert, key


def test_sasl_and_client_certificate_settings(tmp_path: Path) -> None:
    s = load_settings(BASE)
    assert (s.irc_sasl_mechanism, s.irc_tls_cert, s.irc_tls_key) == ("auto", None, None)
    cert, key = _pem_pair(tmp_path)
    s = load_settings({**BASE, "NTR_IRC_TLS": "true", "NTR_IRC_TLS_CERT": str(cert),
                       "NTR_IRC_TLS_KEY": str(key), "NTR_IRC_SASL_MECHANISM": "EXTERNAL"})
    assert s.irc_tls_cert == str(cert) and s.irc_sasl_mechanism == "EXTERNAL"
    s = load_settings({**BASE, "NTR_IRC_SASL_MECHANISM": "scram-sha-256",
                       "NTR_IRC_SASL_USER": "u", "NTR_IRC_SASL_PASSWORD": "p"})
    assert s.irc_sasl_mechanism == "scram-sha-256"


@pytest.mark.parametrize(("extra", "setting", "words"), [
    ({"NTR_IRC_SASL_MECHANISM": "CRAM-MD5"}, "NTR_IRC_SASL_MECHANISM", "unknown mechanism"),
    ({"NTR_IRC_SASL_MECHANISM": "EXTERNAL"}, "NTR_IRC_SASL_MECHANISM", "NTR_IRC_TLS_CERT"),
    ({"NTR_IRC_SASL_MECHANISM": "SCRAM-SHA-256"}, "NTR_IRC_SASL_MECHANISM", "USER"),
    ({"NTR_IRC_SASL_MECHANISM": "PLAIN"}, "NTR_IRC_SASL_MECHANISM", "PASSWORD"),
    ({"NTR_IRC_TLS_CERT": "{missing}"}, "NTR_IRC_TLS_CERT", "cannot read"),
    ({"NTR_IRC_TLS_CERT": "{cert}", "NTR_IRC_TLS_KEY": "{missing}"}, "NTR_IRC_TLS_KEY",
     "cannot read"),
    ({"NTR_IRC_TLS_KEY": "{key}"}, "NTR_IRC_TLS_KEY", "needs NTR_IRC_TLS_CERT"),
    ({"NTR_IRC_TLS_CERT": "{cert}"}, "NTR_IRC_TLS_CERT", "key"),  # the key is elsewhere
    ({"NTR_IRC_TLS_CERT": "{junk}"}, "NTR_IRC_TLS_CERT", "not a PEM"),
    ({"NTR_IRC_TLS_CERT": "{cert}", "NTR_IRC_TLS_KEY": "{key}", "NTR_IRC_TLS": "false"},
     "NTR_IRC_TLS_CERT", "NTR_IRC_TLS=true"),
])
def test_bad_sasl_settings_are_one_line(tmp_path: Path, extra: dict[str, str], setting: str,
                                        words: str) -> None:
    cert, key = _pem_pair(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    paths = {"cert": str(cert), "key": str(key), "junk": str(junk),
             "missing": str(tmp_path / "nope.pem")}
    env = {**BASE, "NTR_IRC_TLS": "true", **{k: v.format(**paths) for k, v in extra.items()}}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    assert message.startswith(setting + ":") and "\n" not in message
    assert words in message


def test_token_strength_and_new_security_settings() -> None:
    with pytest.raises(ConfigError, match="gen-secret"):
        load_settings({"NTR_ADMIN_TOKEN": "abcd1234"})
    s = load_settings({**BASE, "NTR_RELAY_TOKENS": "relay-aaaaaaaaaaaaaaaa, relay-bbbbbbbbbbbbbbbb",
                       "NTR_TRUSTED_PROXIES": "10.0.0.0/8, fd00::1"})
    assert s.relay_tokens == ("relay-aaaaaaaaaaaaaaaa", "relay-bbbbbbbbbbbbbbbb")
    assert s.trusted_proxies == ("10.0.0.0/8", "fd00::1")
    assert s.masked()["NTR_RELAY_TOKENS"] == "***"
    d = load_settings(BASE)
    assert d.relay_tokens == () and d.trusted_proxies == ("127.0.0.1/32", "::1/128")
    assert load_settings({**BASE, "NTR_TRUSTED_PROXIES": ""}).trusted_proxies == ()
