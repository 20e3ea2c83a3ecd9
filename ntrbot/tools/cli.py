"""The `ntrbot` command line: run, check-config, hash-password, gen-secret, poll, demo, ..."""

from __future__ import annotations

import argparse
import asyncio
import linecache
import logging
import secrets
import sys
from collections.abc import Sequence

from ntrbot import __version__
from ntrbot.config import load_settings
from ntrbot.serve import setup_logging
from ntrbot.settings import ConfigError, Settings

log = logging.getLogger("ntrbot")
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"ntrbot: {message}", file=sys.stderr)
    return code


def settings_or_exit(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(config_file=args.config)
    except ConfigError as exc:
        raise SystemExit(fail(str(exc))) from None


def cmd_run(args: argparse.Namespace) -> int:
    from ntrbot.app import create_app
    from ntrbot.serve import StartupError, serve

    settings = settings_or_exit(args)
    setup_logging(args.log_level or settings.log_level)

    def ready() -> None:
        log.info("ntrbot %s listening on http://%s:%d (dashboard %s, IRC %s)", __version__,
                 settings.host, settings.port,
                 "on" if settings.dashboard_enabled else "off (set NTR_WEB_USER, "
                 "NTR_WEB_PASSWORD and NTR_SECRET_KEY)",
                 f"{settings.irc_server}:{settings.irc_port}" if settings.irc_enabled
                 else "off")

    try:
        app = create_app(settings)
    except StartupError as exc:
        return fail(str(exc), 1)
    # Start-up's imports leave ~0.5 MB of source text in linecache that a running bot never
    # shows: attrs keeps the source of every method it generates (aiohttp's classes), and
    # importlib_resources (jaraco `irc`) reads the file of every frame on the import stack.
    # A traceback formatted later reads the files it needs again.
    linecache.clearcache()
    code = asyncio.run(serve(app, settings.host, settings.port, ready))
    if code == 0:
        log.info("ntrbot stopped")
    return code


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    for name, value in settings.masked().items():
        print(f"{name}={'' if value is None else value}")
    print("config ok", file=sys.stderr)
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from ntrbot.http.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            return fail("the passwords do not match", 1)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        return fail("empty password", 1)
    print(hash_password(password))
    return 0


def cmd_gen_secret(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(48))
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    setup_logging(args.log_level or "WARNING")
    return asyncio.run(_poll(settings))


async def _poll(settings: Settings) -> int:
    from datetime import timedelta

    from ntrbot.app import USER_AGENT
    from ntrbot.soundcloud.client import SoundCloudClient
    from ntrbot.soundcloud.outgoing import http_client
    from ntrbot.soundcloud.poller import Poller
    from ntrbot.store.db import Database
    from ntrbot.weeks import ShowClock

    try:
        db = await Database.open(settings.db_path, settings.tz)
    except Exception as exc:
        return fail(f"cannot open database {settings.db_path}: {exc}", 1)
    try:
        async with http_client(USER_AGENT) as http:
            sc = SoundCloudClient(http, api_base=settings.soundcloud_api_base,
                                  web_base=settings.soundcloud_web_base,
                                  client_id=settings.soundcloud_client_id)
            clock = ShowClock(settings.show_day, settings.show_hour, settings.tz,
                              timedelta(hours=settings.show_length_hours))
            poller = Poller(db, sc, clock, username=settings.soundcloud_user,
                            backfill_weeks=settings.backfill_weeks,
                            interval=settings.poll_interval_seconds,
                            live_interval=settings.live_poll_interval_seconds)

            def progress(pages: int, likes: int) -> None:
                print(f"page {pages}: {likes} likes so far", file=sys.stderr, flush=True)

            print(f"polling SoundCloud likes of {settings.soundcloud_user} ...",
                  file=sys.stderr, flush=True)
            try:
                result = await poller.poll_now(progress)
            except Exception as exc:
                return fail(f"poll failed: {exc}", 1)
            print(result.summary())
            return 0
    finally:
        await db.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from ntrbot.tools.demo import run_demo

    setup_logging(args.log_level or "INFO")
    return run_demo(data_dir=args.data_dir, irc_server=args.irc_server,
                    show_token=args.show_token)


def cmd_import_legacy(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ntrbot.tools.legacy import LegacyError, describe, import_legacy, summary
    from ntrbot.weeks import ShowClock

    settings = settings_or_exit(args)
    setup_logging(args.log_level or "WARNING")
    clock = ShowClock(settings.show_day, settings.show_hour, settings.tz,
                      timedelta(hours=settings.show_length_hours))
    try:
        result, shows = import_legacy(
            args.path, settings.db_path, clock, dry_run=args.dry_run,
            warn=lambda line: print(f"ntrbot: {args.path}: {line}", file=sys.stderr))
    except LegacyError as exc:
        return fail(str(exc), 1)
    if args.dry_run:
        print("\n".join(describe(shows, result)))
    print(summary(result, dry_run=args.dry_run))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from ntrbot.tools.backup import BackupError, backup

    settings = settings_or_exit(args)
    try:
        print(backup(settings.db_path, args.file, force=args.force))
    except BackupError as exc:
        return fail(str(exc), 1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ntrbot", description="Live 'now playing' announcer for the NtR show.")
    parser.add_argument("--version", action="version", version=f"ntrbot {__version__}")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (NTR_ environment variables override it)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        type=str.upper, help="override NTR_LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot (the default)").set_defaults(func=cmd_run)
    sub.add_parser("check-config", help="validate the settings and print them, secrets masked"
                   ).set_defaults(func=cmd_check_config)
    sub.add_parser("hash-password", help="read a password (no echo) and print a hash usable "
                   "as NTR_WEB_PASSWORD").set_defaults(func=cmd_hash_password)
    sub.add_parser("gen-secret", help="print a random secret usable as NTR_SECRET_KEY or "
                   "NTR_ADMIN_TOKEN").set_defaults(func=cmd_gen_secret)
    sub.add_parser("poll", help="poll SoundCloud once now, with progress, then exit"
                   ).set_defaults(func=cmd_poll)
    demo = sub.add_parser("demo", help="a ready-to-click local instance on sample data")
    demo.add_argument("--data-dir", help="where to keep the demo database (default: a temp dir)")
    demo.add_argument("--irc-server", help="host[:port] of an IRC server to announce to")
    demo.add_argument("--show-token", action="store_true",
                      help="also print the generated admin token (for API and WebSocket tries)")
    demo.set_defaults(func=cmd_demo)
    legacy = sub.add_parser("import-legacy", help="merge the old FastAPI service's SQLite "
                            "playlists into NTR_DB_PATH")
    legacy.add_argument("path", metavar="PATH", help="the old service's database file")
    legacy.add_argument("--dry-run", action="store_true",
                        help="print what would be imported, write nothing")
    legacy.set_defaults(func=cmd_import_legacy)
    backup = sub.add_parser("backup", help="copy NTR_DB_PATH to FILE (safe while ntrbot runs)")
    backup.add_argument("file", metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(func=cmd_backup)
    parser.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
