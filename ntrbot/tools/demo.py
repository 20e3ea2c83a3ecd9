"""`ntrbot demo`: a complete local instance on sample data, with its own login, no network."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from aiohttp import web

from ntrbot import keys
from ntrbot.config import load_settings
from ntrbot.settings import ConfigError, Settings
from ntrbot.tools.sample_data import PREVIOUS_EPISODE, SampleSoundCloud, sample_playlists
from ntrbot.weeks import utcnow

log = logging.getLogger("ntrbot.demo")

DEMO_USER = "demo"
DB_NAME = "ntrbot-demo.db"
# Settings the operator may still choose for the demo; everything else (secrets, database,
# SoundCloud) is the demo's own, so a production environment cannot leak into it.
PASSTHROUGH = ("NTR_HOST", "NTR_PORT", "NTR_ANNOUNCE_CHANNEL", "NTR_IRC_CHANNELS",
               "NTR_IRC_NICK", "NTR_IRC_TLS", "NTR_IRC_TLS_VERIFY", "NTR_ANNOUNCE_FORMAT",
               "NTR_SHOW_DAY", "NTR_SHOW_HOUR", "NTR_SHOW_TIMEZONE", "NTR_LOG_LEVEL")


class DemoError(Exception):
    """The demo cannot start; `str()` is one line for the console."""


def parse_irc_server(value: str) -> tuple[str, int | None]:
    """`host`, `host:port` or `[v6]:port` -> (host, port or None)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    if not host or (port and not port.isdigit()):
        raise DemoError(f"--irc-server: expected host[:port], got {value!r}")
    return host, int(port) if port else None


def _closed_port() -> socket.socket:
    """A loopback socket bound but not listening: connecting to it is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def demo_settings(data_dir: Path, irc_server: str | None, sink: int,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for the demo: generated secrets, sample database, SoundCloud nowhere."""
    env = os.environ if environ is None else environ
    values = {name: env[name] for name in PASSTHROUGH if name in env}
    nowhere = f"http://127.0.0.1:{sink}"
    values.update({
        "NTR_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "NTR_WEB_USER": DEMO_USER,
        "NTR_WEB_PASSWORD": secrets.token_urlsafe(12),
        "NTR_SECRET_KEY": secrets.token_urlsafe(48),
        "NTR_DB_PATH": str(data_dir / DB_NAME),
        "NTR_SOUNDCLOUD_API_BASE": nowhere,
        "NTR_SOUNDCLOUD_WEB_BASE": nowhere,
        "NTR_SOUNDCLOUD_CLIENT_ID": "demo",
        "NTR_COOKIE_SECURE": "auto",
    })
    if irc_server:
        host, port = parse_irc_server(irc_server)
        values["NTR_IRC_SERVER"] = host
        if port is not None:
            values["NTR_IRC_PORT"] = str(port)
        if "NTR_IRC_CHANNELS" not in values:
            values["NTR_IRC_CHANNELS"] = values.get("NTR_ANNOUNCE_CHANNEL", "#sewerchat")
    return load_settings(environ=values)


async def seed(app: web.Application) -> None:
    """Poll the sample SoundCloud once (the real poll path) and number the two shows."""
    result = await app[keys.POLLER].poll_now()
    db = app[keys.DB]
    _, playlists = sample_playlists(app[keys.CLOCK], app[keys.NOW]())
    for episode, (start, _) in enumerate(sorted(playlists), PREVIOUS_EPISODE):
        show_id = await db.show_id_at(start)
        show = await db.show(show_id) if show_id is not None else None
        if show is not None and show.episode is None:
            await db.set_episode(show.id, episode)
    log.info("demo data: %s", result.summary())


def url_host(host: str) -> str:
    """A host a browser on this machine can open for a listen address."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def banner(settings: Settings, port: int, data_dir: Path, temporary: bool,
           show_token: bool) -> str:
    base = f"http://{url_host(settings.host)}:{port}"
    irc = (f"{settings.irc_server}:{settings.irc_port}, announcing to "
           f"{settings.announce_channel}" if settings.irc_enabled
           else "off (announces are recorded, not sent; give --irc-server host[:port])")
    lines = [
        "ntrbot demo is running on sample data (SoundCloud is simulated: no network).",
        f"  dashboard: {base}/dashboard",
        f"  login:     user {settings.web_user}  password {settings.web_password}",
        f"  IRC:       {irc}",
        f"  data:      {data_dir}" + (" (temporary, deleted on exit)" if temporary else ""),
    ]
    if show_token:
        lines.append(f"  admin token: {settings.admin_token}")
    lines.append("Stop it with Ctrl+C.")
    return "\n".join(lines)


async def serve(settings: Settings, data_dir: Path, temporary: bool,
                show_token: bool = False) -> int:
    """Run the demo app until SIGINT/SIGTERM; 0 on a clean stop."""
    from ntrbot.app import create_app, show_clock
    from ntrbot.serve import StartupError
    from ntrbot.serve import serve as run_until_stopped

    try:
        sample = SampleSoundCloud(show_clock(settings), utcnow)
        app = create_app(settings, soundcloud=sample, start_poller=False)
    except StartupError as exc:
        print(f"ntrbot: {exc}", file=sys.stderr)
        return 1

    async def seed_ctx(app: web.Application) -> AsyncIterator[None]:
        await seed(app)
        yield

    app.cleanup_ctx.append(seed_ctx)

    def ready() -> None:
        print(banner(settings, settings.port, data_dir, temporary, show_token), flush=True)

    return await run_until_stopped(app, settings.host, settings.port, ready)


def run_demo(data_dir: str | None = None, irc_server: str | None = None,
             show_token: bool = False) -> int:
    """Entry point of `ntrbot demo`: exit code 0 on Ctrl+C, 1 if it cannot run, 2 on bad
    settings (one line on stderr, never a traceback)."""
    sink = _closed_port()
    temporary = data_dir is None
    path = Path(tempfile.mkdtemp(prefix="ntrbot-demo-")) if temporary else Path(data_dir or "")
    try:
        if not temporary:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                print(f"ntrbot: --data-dir {path}: {exc.strerror or exc}", file=sys.stderr)
                return 1
        try:
            settings = demo_settings(path.resolve(), irc_server, sink.getsockname()[1])
        except (ConfigError, DemoError) as exc:
            print(f"ntrbot: {exc}", file=sys.stderr)
            return 2
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(serve(settings, path.resolve(), temporary, show_token))
        return 0
    finally:
        sink.close()
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
