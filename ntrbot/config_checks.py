"""Checks that settings can work: each raises ConfigError naming the first bad variable."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ntrbot.netaddr import parse_networks
from ntrbot.settings import ConfigError, Settings

#: The shortest token, password-like secret or webhook key accepted.
MIN_TOKEN_LENGTH = 16
#: The track fields NTR_ANNOUNCE_FORMAT may name.
ANNOUNCE_FIELDS = frozenset(
    {"position", "title", "artist", "permalink_url", "artwork_url", "duration_ms",
     "license", "liked_at", "id", "episode", "show_id"}
)


def _check(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise ConfigError(name, problem)


MAX_NICK_LENGTH = 30
# RFC 2812 2.3.1: a letter or special first, then letters, digits, specials or "-" (ASCII
# only: `\Z`, not `$`, so a trailing newline never passes).
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")


def validate(s: Settings) -> None:
    """Raise ConfigError for the first setting that cannot work."""
    check_tokens(s)
    _check(1 <= s.port <= 65535, "port", "must be 1-65535")
    _check(1 <= s.irc_port <= 65535, "irc_port", "must be 1-65535")
    _check(0 <= s.show_day <= 6, "show_day", "must be 0 (Monday) to 6 (Sunday)")
    _check(0 <= s.show_hour <= 23, "show_hour", "must be 0-23")
    try:
        ZoneInfo(s.show_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("show_timezone", f"unknown time zone {s.show_timezone!r}") from None
    _check(0 < s.show_length_hours <= 168, "show_length_hours", "must be > 0 and at most 168")
    _check(s.poll_interval_seconds >= 1, "poll_interval_seconds", "must be at least 1")
    _check(s.live_poll_interval_seconds >= 1, "live_poll_interval_seconds", "must be at least 1")
    db_dir = os.path.dirname(os.path.abspath(s.db_path))
    _check(os.path.isdir(db_dir), "db_path", f"directory {db_dir} does not exist")
    _check(1 <= s.backfill_weeks <= 520, "backfill_weeks", "must be 1-520")
    _check(bool(s.soundcloud_user), "soundcloud_user", "must not be empty")
    for name in ("soundcloud_api_base", "soundcloud_web_base"):
        url = getattr(s, name)
        _check(url.startswith(("http://", "https://")), name, "must be an http(s) URL")
    if s.secret_key is not None:
        _check(len(s.secret_key) >= 32, "secret_key",
               "must be at least 32 characters (`ntrbot gen-secret` makes one)")
    _check(s.cookie_secure in {"auto", "true", "false"}, "cookie_secure",
           "must be auto, true or false")
    _check(_NICK.match(s.irc_nick) is not None and len(s.irc_nick) <= MAX_NICK_LENGTH,
           "irc_nick",
           f"must be 1-{MAX_NICK_LENGTH} letters, digits or []\\`_^{{|}}- "
           "(RFC 2812), not starting with a digit or -")
    _check(bool(s.announce_channels), "announce_channel", "must name at least one channel")
    for ch in (*s.irc_channels, *s.announce_channels):
        _check(ch[:1] in "#&+!" and len(ch) > 1 and not any(c in ch for c in " ,\x07\r\n"),
               "irc_channels" if ch in s.irc_channels else "announce_channel",
               f"{ch!r} is not a channel name")
    check_channel_keys(s)
    _check(s.irc_nickserv_password is None or not _bad_key(s.irc_nickserv_password),
           "irc_nickserv_password", "must be one word (no spaces or control characters)")
    _check(s.irc_flood_burst >= 1, "irc_flood_burst", "must be at least 1")
    _check(s.irc_flood_rate > 0, "irc_flood_rate", "must be > 0")
    _check(s.announce_fresh_seconds >= 0, "announce_fresh_seconds", "must be >= 0")
    _check(0 <= s.announce_delay_seconds <= 600, "announce_delay_seconds",
           "must be from 0 to 600")
    _check(bool(s.irc_sasl_user) == bool(s.irc_sasl_password), "irc_sasl_password"
           if s.irc_sasl_user else "irc_sasl_user", "SASL needs both user and password")
    check_irc_sasl(s)
    check_webhooks(s)
    _check(s.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"}, "log_level",
           "must be DEBUG, INFO, WARNING or ERROR")
    check_announce_format(s.announce_format)


def check_tokens(s: Settings) -> None:
    """Admin and relay tokens long enough to resist guessing; proxies parseable."""
    advice = (f"must be at least {MIN_TOKEN_LENGTH} characters "
              "(`ntrbot gen-secret` makes one)")
    _check(len(s.admin_token) >= MIN_TOKEN_LENGTH, "admin_token", advice)
    for token in s.relay_tokens:
        _check(len(token) >= MIN_TOKEN_LENGTH, "relay_tokens", "every token " + advice)
        _check(token != s.admin_token, "relay_tokens", "must differ from NTR_ADMIN_TOKEN")
    if s.metrics_token is not None:
        _check(len(s.metrics_token) >= MIN_TOKEN_LENGTH, "metrics_token", advice)
        _check(s.metrics_token != s.admin_token and s.metrics_token not in s.relay_tokens,
               "metrics_token", "must differ from NTR_ADMIN_TOKEN and NTR_RELAY_TOKENS")
    try:
        parse_networks(s.trusted_proxies)
    except ValueError as exc:
        raise ConfigError("trusted_proxies", str(exc)) from None


def _is_http_url(url: str) -> bool:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_webhooks(s: Settings) -> None:
    """Webhook URLs are http(s) and signed with a long enough secret; never echoes a URL."""
    if s.discord_webhook_url is not None:
        _check(_is_http_url(s.discord_webhook_url), "discord_webhook_url",
               "must be an http(s) URL")
    for n, url in enumerate(s.webhook_urls, 1):
        _check(_is_http_url(url), "webhook_urls",
               f"entry {n} of {len(s.webhook_urls)} is not an http(s) URL")
    if s.webhook_urls:
        _check(bool(s.webhook_secret), "webhook_secret",
               "required with NTR_WEBHOOK_URLS (`ntrbot gen-secret` makes one)")
    if s.webhook_secret is not None:
        _check(len(s.webhook_secret) >= MIN_TOKEN_LENGTH, "webhook_secret",
               f"must be at least {MIN_TOKEN_LENGTH} characters "
               "(`ntrbot gen-secret` makes one)")


def _bad_key(key: str) -> bool:
    return (not key or key.startswith(":")
            or any(c in ", " or ord(c) < 32 or ord(c) == 127 for c in key))


def check_channel_keys(s: Settings) -> None:
    """Every key is `#chan=key` for a channel ntrbot joins; never echoes a key."""
    names = {c.lower() for c in (*s.irc_channels, *s.announce_channels)}
    seen: dict[str, str] = {}
    total = len(s.irc_channel_keys)
    for n, pair in enumerate(s.irc_channel_keys, 1):
        chan, sep, key = (part.strip() for part in pair.partition("="))
        where = f"entry {n} of {total}"
        _check(bool(sep) and chan[:1] in "#&+!" and len(chan) > 1, "irc_channel_keys",
               f"{where} is not #channel=key")
        _check(chan.lower() in names, "irc_channel_keys",
               f"{where}: {chan} is not in NTR_IRC_CHANNELS or NTR_ANNOUNCE_CHANNEL")
        _check(not _bad_key(key), "irc_channel_keys",
               f"{where}: the key for {chan} is empty or has a space, comma or control "
               "character")
        _check(seen.setdefault(chan.lower(), key) == key, "irc_channel_keys",
               f"two different keys for {chan}")


def check_announce_format(template: str) -> None:
    """Raise ConfigError unless the template renders sample tracks: only known track fields,
    sane widths, and every format spec valid for its value (`announce_format.problem`)."""
    from ntrbot.announcing.template import problem  # only the format needs the track models

    why = problem(template, ANNOUNCE_FIELDS)
    if why is not None:
        raise ConfigError("announce_format", why)


SASL_MECHANISMS = ("auto", "PLAIN", "SCRAM-SHA-256", "EXTERNAL")


def check_irc_sasl(s: Settings) -> None:
    """Raise ConfigError unless the SASL mechanism and the client certificate can work."""
    mech = s.irc_sasl_mechanism
    _check(mech.lower() in {m.lower() for m in SASL_MECHANISMS}, "irc_sasl_mechanism",
           f"unknown mechanism {mech!r}; use auto, PLAIN, SCRAM-SHA-256 or EXTERNAL")
    for name in ("irc_tls_cert", "irc_tls_key"):
        path = getattr(s, name)
        if path is not None:
            _check(os.path.isfile(path) and os.access(path, os.R_OK), name,
                   f"cannot read {path}")
    _check(s.irc_tls_key is None or bool(s.irc_tls_cert), "irc_tls_key",
           "a key needs NTR_IRC_TLS_CERT")
    if s.irc_tls_cert:
        _check(s.irc_tls, "irc_tls_cert", "a client certificate needs NTR_IRC_TLS=true")
        import ssl  # only here: most deployments have no client certificate

        try:  # as ntrbot.irc.transport.load_client_cert does (never prompts)
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                s.irc_tls_cert, s.irc_tls_key or None, password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError("irc_tls_cert" if s.irc_tls_key is None else "irc_tls_key",
                              f"not a PEM certificate with its unencrypted key ({exc})"
                              ) from None
    upper = mech.upper()
    if upper == "EXTERNAL":
        _check(bool(s.irc_tls_cert), "irc_sasl_mechanism", "EXTERNAL needs NTR_IRC_TLS_CERT")
    elif upper in ("PLAIN", "SCRAM-SHA-256"):
        _check(bool(s.irc_sasl_user and s.irc_sasl_password), "irc_sasl_mechanism",
               f"{upper} needs NTR_IRC_SASL_USER and NTR_IRC_SASL_PASSWORD")
