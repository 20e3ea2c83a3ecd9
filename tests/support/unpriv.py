"""Run test processes as an unprivileged user when the suite runs as root (runuser/setpriv)."""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

TEST_USER = "ntrtest"
# Held while the user is looked up and created, so that one xdist worker creates it.
_USER_LOCK = os.path.join(tempfile.gettempdir(), "ntrbot-test-user.lock")

_PREFIXES: dict[tuple[str, ...], list[str]] = {}


def ensure_test_user() -> pwd.struct_passwd:
    """The unprivileged user test processes run as (created on first use; root only)."""
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        pass
    # pytest-xdist workers may all get here at once: one of them creates the user.
    with open(_USER_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(TEST_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 TEST_USER],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(TEST_USER)


def drop_prefix(probe: list[str]) -> list[str]:
    """Command prefix that runs a command as TEST_USER ([] when we are not root).

    Plain `runuser` (or `setpriv`) is used when that user can run ``probe``; otherwise `setpriv`
    with the single ambient capability CAP_DAC_READ_SEARCH (then CAP_DAC_OVERRIDE), which lets
    the process read and traverse root's files (e.g. a Python under root's 0700 home) without
    being root. ``probe`` must exit 0 and print the effective uid last (like ``id -u``).
    The answer is cached per probe.
    """
    if os.geteuid() != 0:
        return []
    key = tuple(probe)
    if key in _PREFIXES:
        return _PREFIXES[key]
    user = ensure_test_user()
    ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    candidates: list[list[str]] = []
    if shutil.which("runuser"):
        candidates.append(["runuser", "-u", TEST_USER, "--"])
    if shutil.which("setpriv"):
        candidates.append(["setpriv", *ids, "--"])
        for cap in ("dac_read_search", "dac_override"):
            candidates.append(
                ["setpriv", *ids, f"--inh-caps=+{cap}", f"--ambient-caps=+{cap}", "--"]
            )
    errors: list[str] = []
    for prefix in candidates:
        result = subprocess.run(
            [*prefix, *probe], capture_output=True, text=True, timeout=60, cwd="/", check=False
        )
        last = result.stdout.strip().splitlines()[-1:]
        if result.returncode == 0 and last == [str(user.pw_uid)]:
            _PREFIXES[key] = prefix
            return prefix
        errors.append(f"{' '.join(prefix)}: {result.stderr.strip()[-300:]}")
    raise RuntimeError(
        f"cannot run {probe[0]} as the unprivileged user {TEST_USER!r}; make it readable for "
        "that user (e.g. chmod o+x on its parent directories). Tried:\n" + "\n".join(errors)
    )


def give_to_test_user(path: Path) -> None:
    """chown ``path`` (recursively) to TEST_USER when running as root; no-op otherwise."""
    if os.geteuid() != 0:
        return
    user = ensure_test_user()
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for entry in dirs + files:
            os.chown(os.path.join(root, entry), user.pw_uid, user.pw_gid, follow_symlinks=False)
