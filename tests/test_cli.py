"""The `ntrbot` command line, run as a real process: exit codes and what it prints."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ntrbot import __version__
from ntrbot.http.auth import verify_password
from ntrbot.settings import setting_names
from tests.support.constants import ADMIN_TOKEN
from tests.support.fake_soundcloud import DEFAULT_CLIENT_ID, FakeSoundCloud, make_like
from tests.support.net import free_port
from tests.support.process import REPO

SECRET_KEY = "s" * 40
WEB_PASSWORD = "hunter2-but-longer"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTR_")}
    env["PYTHONUNBUFFERED"] = "1"
    # The code of this checkout, whatever `pip install -e` points at (as NtrbotProcess does).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def ntrbot(*args: str, cwd: Path, env: dict[str, str] | None = None,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ntrbot", *args], cwd=cwd,
                          env=env if env is not None else clean_env(), input=stdin,
                          capture_output=True, text=True, timeout=60)


async def antrbot(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Like `ntrbot` but without blocking the loop (the fake SoundCloud runs in it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ntrbot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# --- --version, --log-level, help ----------------------------------------------------

def test_version(tmp_path: Path) -> None:
    proc = ntrbot("--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"ntrbot {__version__}"


def test_help_lists_every_command(tmp_path: Path) -> None:
    proc = ntrbot("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("run", "check-config", "hash-password", "gen-secret", "poll", "demo"):
        assert command in proc.stdout


def test_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    proc = ntrbot("--log-level", "LOUD", "gen-secret", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--log-level" in proc.stderr and "Traceback" not in proc.stderr


# --- check-config --------------------------------------------------------------------

def test_check_config_prints_every_setting_with_secrets_masked(tmp_path: Path) -> None:
    env = clean_env(NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_WEB_USER="host",
                    NTR_WEB_PASSWORD=WEB_PASSWORD, NTR_SECRET_KEY=SECRET_KEY,
                    NTR_IRC_SASL_USER="ntrbot", NTR_IRC_SASL_PASSWORD="sasl-pass-123",
                    NTR_PORT="8123", NTR_IRC_CHANNELS="#a, #b")
    proc = ntrbot("check-config", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    printed = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    assert list(printed) == setting_names()
    for secret in ("NTR_ADMIN_TOKEN", "NTR_WEB_PASSWORD", "NTR_SECRET_KEY",
                   "NTR_IRC_SASL_PASSWORD"):
        assert printed[secret] == "***"
    assert printed["NTR_IRC_PASSWORD"] == ""  # unset stays visibly unset
    for value in (ADMIN_TOKEN, WEB_PASSWORD, SECRET_KEY, "sasl-pass-123"):
        assert value not in proc.stdout + proc.stderr
    assert printed["NTR_PORT"] == "8123" and printed["NTR_WEB_USER"] == "host"
    assert printed["NTR_IRC_CHANNELS"] == "#a,#b"
    assert printed["NTR_HOST"] == "127.0.0.1"  # defaults are shown too
    assert "config ok" in proc.stderr


def test_check_config_reads_toml_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "ntrbot.toml"
    config.write_text(f'admin_token = "{ADMIN_TOKEN}"\nport = 8080\nNTR_SHOW_HOUR = 21\n'
                      'irc_nick = "filebot"\n')
    proc = ntrbot("--config", str(config), "check-config", cwd=tmp_path,
                  env=clean_env(NTR_IRC_NICK="envbot"))
    assert proc.returncode == 0, proc.stderr
    assert "NTR_PORT=8080" in proc.stdout.splitlines()
    assert "NTR_SHOW_HOUR=21" in proc.stdout.splitlines()
    assert "NTR_IRC_NICK=envbot" in proc.stdout.splitlines()


def test_check_config_reads_an_ntrbot_table(tmp_path: Path) -> None:
    config = tmp_path / "ntrbot.toml"
    config.write_text(f'[ntrbot]\nadmin_token = "{ADMIN_TOKEN}"\nport = 8081\n'
                      'NTR_IRC_NICK = "tablebot"\n')
    proc = ntrbot("--config", str(config), "check-config", cwd=tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert "NTR_PORT=8081" in proc.stdout.splitlines()
    assert "NTR_IRC_NICK=tablebot" in proc.stdout.splitlines()


@pytest.mark.parametrize(("env", "toml", "name"), [
    ({}, None, "NTR_ADMIN_TOKEN"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_PORT": "99999"}, None, "NTR_PORT"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SECRET_KEY": "short"}, None, "NTR_SECRET_KEY"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_IRC_TLS": "maybe"}, None, "NTR_IRC_TLS"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_ANNOUNCE_FORMAT": "{nope}"}, None,
     "NTR_ANNOUNCE_FORMAT"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_ANNOUNCE_FORMAT": "{position:099999999999999999999}"},
     None, "NTR_ANNOUNCE_FORMAT"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_IRC_NICK": "ntr\r\nQUIT"}, None, "NTR_IRC_NICK"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN}, "port = [1, 2", "NTR_CONFIG"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN}, "no_such_setting = 1", "NTR_NO_SUCH_SETTING"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN}, "[ntrbot]\nno_such_setting = 1", "NTR_NO_SUCH_SETTING"),
    ({"NTR_ADMIN_TOKEN": "abcd1234"}, None, "NTR_ADMIN_TOKEN"),
    ({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_RELAY_TOKENS": "short-relay"}, None,
     "NTR_RELAY_TOKENS"),
])
def test_check_config_bad_setting_is_one_line_exit_2(tmp_path: Path, env: dict[str, str],
                                                      toml: str | None, name: str) -> None:
    args: tuple[str, ...] = ("check-config",)
    if toml is not None:
        (tmp_path / "bad.toml").write_text(toml)
        args = ("--config", str(tmp_path / "bad.toml"), *args)
    proc = ntrbot(*args, cwd=tmp_path, env=clean_env(**env))
    assert proc.returncode == 2
    assert name in one_line(proc.stderr)
    assert proc.stdout == ""
    assert ADMIN_TOKEN not in proc.stderr
    if name in ("NTR_ADMIN_TOKEN", "NTR_RELAY_TOKENS") and env:
        assert "ntrbot gen-secret" in proc.stderr and "short-relay" not in proc.stderr


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    proc = ntrbot("--config", str(tmp_path / "absent.toml"), "check-config", cwd=tmp_path,
                  env=clean_env(NTR_ADMIN_TOKEN=ADMIN_TOKEN))
    assert proc.returncode == 2
    assert "absent.toml" in one_line(proc.stderr)


# --- hash-password, gen-secret -------------------------------------------------------

def test_hash_password_from_a_pipe(tmp_path: Path) -> None:
    proc = ntrbot("hash-password", cwd=tmp_path, stdin="correct horse battery\n")
    assert proc.returncode == 0, proc.stderr
    hashed = one_line(proc.stdout)
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batter")
    again = ntrbot("hash-password", cwd=tmp_path, stdin="correct horse battery\n").stdout
    assert again.strip() != hashed  # salted


def test_hashed_password_is_accepted_as_a_setting(tmp_path: Path) -> None:
    hashed = ntrbot("hash-password", cwd=tmp_path, stdin="pw-123456\n").stdout.strip()
    proc = ntrbot("check-config", cwd=tmp_path, env=clean_env(
        NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_WEB_USER="host", NTR_WEB_PASSWORD=hashed,
        NTR_SECRET_KEY=SECRET_KEY))
    assert proc.returncode == 0 and hashed not in proc.stdout


def test_hash_password_refuses_an_empty_password(tmp_path: Path) -> None:
    proc = ntrbot("hash-password", cwd=tmp_path, stdin="\n")
    assert proc.returncode != 0 and proc.stdout == ""
    assert "empty" in one_line(proc.stderr)


def test_gen_secret_is_long_random_and_usable(tmp_path: Path) -> None:
    secrets = {ntrbot("gen-secret", cwd=tmp_path).stdout for _ in range(3)}
    assert len(secrets) == 3
    for text in secrets:
        secret = one_line(text)
        assert len(secret) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", secret)
    # (the loop above ran: three secrets)
    proc = ntrbot("check-config", cwd=tmp_path, env=clean_env(
        NTR_ADMIN_TOKEN=secret, NTR_SECRET_KEY=secret, NTR_WEB_USER="u", NTR_WEB_PASSWORD="p"))  # type: ignore[possibly-undefined]
    assert proc.returncode == 0, proc.stderr


# --- poll ----------------------------------------------------------------------------

@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud() as sc:
        yield sc


def poll_env(fake: FakeSoundCloud, tmp_path: Path) -> dict[str, str]:
    return clean_env(NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_SOUNDCLOUD_API_BASE=fake.api_base,
                     NTR_SOUNDCLOUD_WEB_BASE=fake.web_base, NTR_SHOW_TIMEZONE="UTC",
                     NTR_SHOW_DAY=str((datetime.now(UTC) - timedelta(days=3)).weekday()),
                     NTR_SHOW_HOUR="0", NTR_DB_PATH=str(tmp_path / "poll.db"))


async def test_poll_prints_progress_and_a_summary(fake: FakeSoundCloud, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    fake.set_likes([make_like(100 + i, now - timedelta(minutes=5 + i), title=f"Song {i}")
                    for i in range(5)])
    code, out, err = await antrbot("poll", cwd=tmp_path, env=poll_env(fake, tmp_path))
    assert code == 0, err
    summary = one_line(out)
    assert "5 likes" in summary and "current show has 5 track(s)" in summary
    assert "polling SoundCloud likes of nicktherat" in err
    assert re.search(r"^page 1: 5 likes so far$", err, re.MULTILINE), err
    assert "Traceback" not in err
    assert DEFAULT_CLIENT_ID not in out + err and ADMIN_TOKEN not in out + err
    # A second poll finds nothing new and says so.
    code, out, _ = await antrbot("poll", cwd=tmp_path, env=poll_env(fake, tmp_path))
    assert code == 0 and "0 new track(s)" in out


async def test_poll_log_level_shows_info_lines(fake: FakeSoundCloud, tmp_path: Path) -> None:
    env = poll_env(fake, tmp_path)
    _, _, quiet = await antrbot("poll", cwd=tmp_path, env=env)
    assert " INFO " not in quiet
    (tmp_path / "poll.db").unlink()
    code, _, loud = await antrbot("--log-level", "info", "poll", cwd=tmp_path, env=env)
    assert code == 0 and " INFO ntrbot" in loud


async def test_poll_failure_is_one_clear_line(fake: FakeSoundCloud, tmp_path: Path) -> None:
    fake.fail_next(50, status=503)
    code, out, err = await antrbot("poll", cwd=tmp_path, env=poll_env(fake, tmp_path))
    assert code != 0 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("ntrbot: poll failed:") and "503" in last
    assert "Traceback" not in err and DEFAULT_CLIENT_ID not in err


async def test_poll_unreachable_soundcloud(tmp_path: Path) -> None:

    nowhere = f"http://127.0.0.1:{free_port()}"
    env = clean_env(NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_SOUNDCLOUD_API_BASE=nowhere,
                    NTR_SOUNDCLOUD_WEB_BASE=nowhere, NTR_SOUNDCLOUD_CLIENT_ID="x" * 32,
                    NTR_DB_PATH=str(tmp_path / "poll.db"))
    code, _, err = await antrbot("poll", cwd=tmp_path, env=env)
    assert code != 0
    assert err.strip().splitlines()[-1].startswith("ntrbot: poll failed:")
    assert "Traceback" not in err and "x" * 32 not in err


def test_poll_bad_database_path_is_one_line(tmp_path: Path) -> None:
    proc = ntrbot("poll", cwd=tmp_path, env=clean_env(
        NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_DB_PATH=str(tmp_path / "no" / "such" / "dir.db")))
    assert proc.returncode != 0
    assert "database" in one_line(proc.stderr)


def test_poll_bad_config_exits_2(tmp_path: Path) -> None:
    proc = ntrbot("poll", cwd=tmp_path, env=clean_env())
    assert proc.returncode == 2 and "NTR_ADMIN_TOKEN" in one_line(proc.stderr)


@pytest.mark.parametrize("command", ["run", "demo"])
def test_dashboard_without_cryptography_is_one_line_at_start(tmp_path: Path,
                                                             command: str) -> None:
    """Sessions import `cryptography` lazily; its absence must still stop the start, not a login."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['cryptography'] = None\n")
    path = os.pathsep.join(p for p in (str(hide), os.environ.get("PYTHONPATH")) if p)
    env = clean_env(PYTHONPATH=path, NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_WEB_USER="host",
                    NTR_WEB_PASSWORD=WEB_PASSWORD, NTR_SECRET_KEY=SECRET_KEY,
                    NTR_PORT=str(free_port()), NTR_DB_PATH=str(tmp_path / "ntr.db"))
    proc = ntrbot(command, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert "cryptography" in line and "not installed" in line
    for secret in (WEB_PASSWORD, SECRET_KEY, ADMIN_TOKEN):
        assert secret not in proc.stderr


def test_check_config_refuses_bad_sasl_settings(tmp_path: Path) -> None:
    env = clean_env(NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_IRC_SASL_MECHANISM="DIGEST-MD5")
    proc = ntrbot("check-config", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_line(proc.stderr).startswith("ntrbot: NTR_IRC_SASL_MECHANISM: unknown")
    env = clean_env(NTR_ADMIN_TOKEN=ADMIN_TOKEN, NTR_IRC_TLS="true",
                    NTR_IRC_TLS_CERT=str(tmp_path / "missing.pem"))
    proc = ntrbot("check-config", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "NTR_IRC_TLS_CERT" in one_line(proc.stderr)
