"""Start real Sopel and Limnoria processes with the compat plugins, as an unprivileged user."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tests.support.unpriv import drop_prefix, give_to_test_user, unpriv_python

REPO = Path(__file__).resolve().parents[2]
SOPEL_PLUGIN = REPO / "compat" / "sopel" / "ntr_playlist.py"
LIMNORIA_PLUGIN = REPO / "compat" / "limnoria" / "NtrPlaylist"

SOPEL_CFG = """\
[core]
nick = {nick}
user = {nick}
name = ntrbot compat test (Sopel)
host = {irc_host}
port = {irc_port}
use_ssl = false
owner = {owner}
channels = "{channel}"
prefix = !
homedir = {home}
logdir = {home}/logs
pid_dir = {home}
enable = ntr_playlist
logging_level = INFO
timeout = 120

[ntr_playlist]
ws_url = {ws_url}
admin_token = {admin_token}
announce_channel = {announce_channel}
api_base_url = {api_base_url}
"""

LIMNORIA_CONF = """\
supybot.nick: {nick}
supybot.ident: {nick}
supybot.user: ntrbot compat test (Limnoria)
supybot.networks: test
supybot.networks.test.servers: {irc_host}:{irc_port}
supybot.networks.test.channels: {channel}
supybot.networks.test.ssl: False
supybot.directories.conf: {home}/conf
supybot.directories.data: {home}/data
supybot.directories.data.tmp: {home}/data/tmp
supybot.directories.data.web: {home}/data/web
supybot.directories.backup: {home}/backup
supybot.directories.log: {home}/logs
supybot.directories.plugins: {home}/plugins
supybot.plugins: NtrPlaylist
supybot.plugins.NtrPlaylist: True
supybot.plugins.NtrPlaylist.wsUrl: {ws_url}
supybot.plugins.NtrPlaylist.adminToken: {admin_token}
supybot.plugins.NtrPlaylist.announceChannel: {announce_channel}
supybot.plugins.NtrPlaylist.apiBaseUrl: {api_base_url}
supybot.reply.whenAddressedBy.chars: !
supybot.log.stdout: True
supybot.log.stdout.level: INFO
supybot.log.level: INFO
supybot.protocols.irc.throttleTime: 0.2
supybot.servers.http.singleStack: True
supybot.servers.http.hosts4: 127.0.0.1
supybot.servers.http.port: 0
"""


# --- running as someone else -----------------------------------------------------------------


BOT_MODULES = ("sopel", "supybot", "websocket")
BOT_PACKAGES = ("sopel", "limnoria", "websocket-client")


def bot_python() -> str:
    """The interpreter the bots run with: one TEST_USER can execute, with Sopel, Limnoria and
    websocket-client (tests.support.unpriv.unpriv_python; sys.executable when not root)."""
    return unpriv_python(BOT_MODULES, BOT_PACKAGES)


def _privilege_drop_prefix() -> list[str]:
    """Command prefix that runs a command as TEST_USER ([] when we are not root).

    See tests.support.unpriv.drop_prefix: the probe checks `bot_python` can import the bots.
    """
    probe = [bot_python(), "-c", "import os, sopel, supybot, websocket; print(os.geteuid())"]
    return drop_prefix(probe)


def _make_workdir(tmpdir: Path, name: str) -> tuple[Path, Path | None]:
    """A fresh directory for the bot (and where to keep its files after stop(), if elsewhere).

    As root the bot runs as TEST_USER, who cannot enter pytest's 0700 tmp tree; the bot then
    works in a new /tmp directory (symlinked from ``tmpdir``) that stop() copies back.
    """
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        workdir = tmpdir / name
        workdir.mkdir()
        return workdir, None
    workdir = Path(tempfile.mkdtemp(prefix=f"ntr-{name}-"))
    os.chmod(workdir, 0o755)
    link = tmpdir / name
    link.symlink_to(workdir)
    return workdir, link


# --- a blocking observer that asks NAMES until the bot is in the channel ----------------------


def _names_contain(
    irc_host: str, irc_port: int, channel: str, nick: str, deadline: float, proc: Any
) -> bool:
    """Connect as a throwaway client and poll NAMES until ``nick`` is in ``channel``."""
    me = f"w{secrets.token_hex(4)}"
    with socket.create_connection((irc_host, irc_port), timeout=5) as sock:
        sock.settimeout(0.5)
        sock.sendall(f"NICK {me}\r\nUSER {me} 0 * :join watcher\r\n".encode())
        buffer = b""
        registered = False
        names: set[str] = set()
        last_ask = 0.0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if registered and time.monotonic() - last_ask > 0.5:
                names = set()
                sock.sendall(f"NAMES {channel}\r\n".encode())
                last_ask = time.monotonic()
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return False
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                parts = line.split(" ")
                if line.startswith("PING"):
                    sock.sendall(("PONG" + line[4:] + "\r\n").encode())
                elif len(parts) > 1 and parts[1] == "001":
                    registered = True
                elif len(parts) > 1 and parts[1] == "433" and not registered:  # nick in use
                    me = f"w{secrets.token_hex(4)}"
                    sock.sendall(f"NICK {me}\r\n".encode())
                elif len(parts) > 1 and parts[1] == "353":
                    trailing = line.split(" :", 1)[1] if " :" in line else ""
                    names |= {n.lstrip("@+%&~").lower() for n in trailing.split()}
                elif len(parts) > 1 and parts[1] == "366" and nick.lower() in names:
                    sock.sendall(b"QUIT :seen\r\n")
                    return True
    return False


# --- the bot processes -----------------------------------------------------------------------


@dataclass
class BotProcess:
    """A running Sopel or Limnoria process; ``stop()`` ends it (and its process group)."""

    kind: str
    nick: str
    workdir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    keep_dir: Path | None = None  # where the files are copied on stop (root case)
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (both bots quit IRC cleanly on it), then SIGKILL the group if needed."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        if not self.stopped and self.keep_dir is not None:
            self._move_files_to_keep_dir()
        self.stopped = True
        return int(self.proc.returncode)

    def _move_files_to_keep_dir(self) -> None:
        """Copy the run's files next to the caller's tmpdir and drop the /tmp work dir."""
        assert self.keep_dir is not None
        if self.keep_dir.is_symlink():
            self.keep_dir.unlink()
        shutil.copytree(self.workdir, self.keep_dir, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = self.keep_dir
        self.log_path = self.keep_dir / self.log_path.name

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(
    kind: str,
    nick: str,
    workdir: Path,
    command: list[str],
    irc_host: str,
    irc_port: int,
    channel: str,
    join_timeout: float,
    keep_dir: Path | None,
) -> BotProcess:
    try:
        prefix = _privilege_drop_prefix()
    except Exception:
        if keep_dir is not None:  # do not leave the /tmp work dir behind
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    give_to_test_user(workdir)
    log_path = workdir / f"{kind}.out"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [*prefix, *command],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    bot = BotProcess(kind, nick, workdir, log_path, proc, keep_dir=keep_dir)
    deadline = time.monotonic() + join_timeout
    joined = False
    while not joined and time.monotonic() < deadline and bot.running():
        try:
            joined = _names_contain(irc_host, irc_port, channel, nick, deadline, proc)
        except OSError:
            time.sleep(0.2)
    if not joined:
        code = bot.stop()
        raise RuntimeError(
            f"{kind} {nick!r} did not join {channel} within {join_timeout} s "
            f"(exit {code}); output:\n{bot.log()[-4000:]}"
        )
    return bot


def _sopel_home(home: Path, values: dict[str, Any], edit: Callable[[str], str]) -> list[str]:
    """Sopel's home: compat/sopel/ntr_playlist.py in its plugins dir, bot.cfg; its command."""
    (home / "plugins").mkdir()
    (home / "logs").mkdir()
    shutil.copy2(SOPEL_PLUGIN, home / "plugins" / SOPEL_PLUGIN.name)
    cfg = home / "bot.cfg"
    cfg.write_text(edit(SOPEL_CFG.format(owner=f"{values['nick']}owner", **values)))
    return [bot_python(), "-m", "sopel.cli.run", "start", "-c", str(cfg)]


def _limnoria_home(home: Path, values: dict[str, Any], edit: Callable[[str], str]) -> list[str]:
    """Limnoria's home: compat/limnoria/NtrPlaylist in its plugins dir, bot.conf; its command."""
    for sub in ("conf", "data", "data/tmp", "data/web", "backup", "logs"):
        (home / sub).mkdir(parents=True)
    for empty in ("users.conf", "channels.conf", "ignores.conf", "networks.conf"):
        (home / "conf" / empty).touch()
    shutil.copytree(
        LIMNORIA_PLUGIN,
        home / "plugins" / LIMNORIA_PLUGIN.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    conf = home / "bot.conf"
    conf.write_text(edit(LIMNORIA_CONF.format(**values)))
    return [
        bot_python(),
        "-c",
        "from supybot.scripts.limnoria import main; main()",
        "--disable-multiprocessing",
        str(conf),
    ]


_HOMES = {"sopel": _sopel_home, "limnoria": _limnoria_home}


def start_bot(
    kind: str,
    irc_host: str,
    irc_port: int,
    nick: str,
    channel: str,
    ws_url: str,
    api_base_url: str,
    admin_token: str,
    tmpdir: Path,
    *,
    announce_channel: str | None = None,
    join_timeout: float = 40.0,
    edit_config: Callable[[str], str] = str,
) -> BotProcess:
    """A real Sopel or Limnoria process (``kind``) with its compat plugin installed;
    ``edit_config`` may change the config text before it is written.

    Returns once the bot is in ``channel`` (checked with NAMES from a throwaway client).
    """
    home, keep_dir = _make_workdir(tmpdir, f"{kind}-{nick}")
    values = dict(nick=nick, irc_host=irc_host, irc_port=irc_port, channel=channel, home=home,
                  ws_url=ws_url, admin_token=admin_token,
                  announce_channel=announce_channel or channel, api_base_url=api_base_url)
    command = _HOMES[kind](home, values, edit_config)
    return _spawn(kind, nick, home, command, irc_host, irc_port, channel, join_timeout, keep_dir)


# start_bot for one kind: (irc_host, irc_port, nick, channel, ws_url, api_base_url,
# admin_token, tmpdir, *, announce_channel=None, join_timeout=40.0, edit_config=str)
start_sopel = partial(start_bot, "sopel")
start_limnoria = partial(start_bot, "limnoria")


async def astart_sopel(*args: Any, **kwargs: Any) -> BotProcess:
    """start_sopel() off the event loop (it blocks until the bot has joined)."""
    return await asyncio.to_thread(start_sopel, *args, **kwargs)


async def astart_limnoria(*args: Any, **kwargs: Any) -> BotProcess:
    """start_limnoria() off the event loop (it blocks until the bot has joined)."""
    return await asyncio.to_thread(start_limnoria, *args, **kwargs)


async def start_both(*starts: Coroutine[Any, Any, BotProcess]) -> list[BotProcess]:
    """Await bot starts concurrently; if one fails, stop the ones that started, then raise."""
    results = await asyncio.gather(*starts, return_exceptions=True)
    started = [r for r in results if isinstance(r, BotProcess)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        for bot in started:
            await asyncio.to_thread(bot.stop)
        raise errors[0]
    return started
