"""NTR_IRC_CHANNEL_KEYS and `#chan key` channel entries: parsed, validated, never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ntrbot.config import load_settings
from ntrbot.settings import ConfigError, Settings
from tests.support.constants import ADMIN_TOKEN
from tests.support.process import REPO

BASE = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_DB_PATH": "/tmp/ntrbot-keys-test.db"}


def settings(**env: str) -> Settings:
    return load_settings({**BASE, **env})


def test_keys_from_pairs_and_from_channel_entries() -> None:
    s = settings(NTR_IRC_CHANNELS="#sewerchat,#vip vipkey,#other",
                 NTR_IRC_CHANNEL_KEYS="#sewerchat=sewerkey",
                 NTR_ANNOUNCE_CHANNEL="#sewerchat")
    assert s.irc_channels == ("#sewerchat", "#vip", "#other")
    assert s.channel_keys == {"#sewerchat": "sewerkey", "#vip": "vipkey"}
    masked = s.masked()
    assert masked["NTR_IRC_CHANNEL_KEYS"] == "***"
    assert masked["NTR_IRC_CHANNELS"] == "#sewerchat,#vip,#other"
    assert "vipkey" not in repr(masked) and "sewerkey" not in repr(masked)


def test_a_key_for_an_announce_only_channel() -> None:
    s = settings(NTR_ANNOUNCE_CHANNEL="#sewerchat,#news", NTR_IRC_CHANNEL_KEYS="#news=k1")
    assert s.channel_keys == {"#news": "k1"}


@pytest.mark.parametrize(("env", "words"), [
    ({"NTR_IRC_CHANNEL_KEYS": "#sewerchat"}, "entry 1 of 1 is not #channel=key"),
    ({"NTR_IRC_CHANNEL_KEYS": "sewerchat=topsecret"}, "is not #channel=key"),
    ({"NTR_IRC_CHANNEL_KEYS": "#elsewhere=topsecret"}, "#elsewhere is not in NTR_IRC_CHANNELS"),
    ({"NTR_IRC_CHANNEL_KEYS": "#sewerchat="}, "the key for #sewerchat is empty"),
    ({"NTR_IRC_CHANNEL_KEYS": "#sewerchat=:topsecret"}, "the key for #sewerchat"),
    ({"NTR_IRC_CHANNELS": "#sewerchat top secret"}, "the key for #sewerchat"),
    ({"NTR_IRC_CHANNELS": "#sewerchat topsecret",
      "NTR_IRC_CHANNEL_KEYS": "#sewerchat=topsecret2"}, "two different keys for #sewerchat"),
])
def test_a_bad_key_list_is_one_clear_error_without_the_key(env: dict[str, str],
                                                           words: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(**env)
    text = str(err.value)
    assert text.startswith(("NTR_IRC_CHANNEL_KEYS: ",)), text
    assert words in text
    assert "topsecret" not in text and "\n" not in text


def test_check_config_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_IRC_CHANNEL_KEYS": "#nowhere=hushhush",
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "ntrbot", "check-config"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "NTR_IRC_CHANNEL_KEYS: entry 1 of 1" in lines[0]
    assert "hushhush" not in proc.stderr and proc.stdout == ""


def test_check_config_masks_keys_and_the_nickserv_password(tmp_path: Path) -> None:
    env = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_IRC_CHANNELS": "#sewerchat hushhush",
           "NTR_IRC_NICKSERV_PASSWORD": "nickpass-secret", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "ntrbot", "check-config"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert "NTR_IRC_CHANNELS=#sewerchat" in out
    assert "NTR_IRC_CHANNEL_KEYS=***" in out
    assert "NTR_IRC_NICKSERV_PASSWORD=***" in out
    assert "hushhush" not in proc.stdout + proc.stderr
    assert "nickpass-secret" not in proc.stdout + proc.stderr
