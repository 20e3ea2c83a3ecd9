"""Run test processes as an unprivileged user when the suite runs as root, from files it can read.

InspIRCd refuses root and the real bots (Sopel, Limnoria) should not run as root, so as root
they run as TEST_USER. Two things make that work on any machine:

- `drop_prefix`: a command prefix that changes user and then *execs* the command (a few lines
  of Python run by this interpreter as root), so the process started is the server or bot
  itself: SIGTERM reaches it directly and its exit status is its own. (`runuser` forks,
  answers SIGTERM by killing its child after 2 s and exits -15 itself.)
- `unpriv_python`: an interpreter TEST_USER can execute. The one running the suite may live
  where that user cannot read (a venv or pyenv under root's 0700 home); then a venv is built
  once in a world-readable cache directory from a base Python the user can run (this one's
  real interpreter, or the system's python3), with the packages installed here, at the same
  versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

TEST_USER = "ntrtest"
# Held while the user is looked up and created, so that one xdist worker creates it.
_USER_LOCK = os.path.join(tempfile.gettempdir(), "ntrbot-test-user.lock")
# Where the test user's venvs are built: world-readable, never under a 0700 home.
CACHE_ROOT = Path(tempfile.gettempdir())
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

# argv: -c NAME -- COMMAND...; the command's path is found first (after the drop this
# interpreter may no longer read its own stdlib), then groups, gid, uid, and exec: no fork,
# no wrapper left.
_EXEC_AS = (
    "import os, pwd, shutil, sys; u = pwd.getpwnam(sys.argv[1]); "
    "path = shutil.which(sys.argv[3]) or sys.argv[3]; "
    "os.initgroups(u.pw_name, u.pw_gid); os.setgid(u.pw_gid); os.setuid(u.pw_uid); "
    "os.execv(path, sys.argv[3:])"
)

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


def exec_as_prefix() -> list[str]:
    """The prefix that runs a command as TEST_USER by exec ([] when we are not root)."""
    if os.geteuid() != 0:
        return []
    user = ensure_test_user()
    return [sys.executable, "-I", "-S", "-c", _EXEC_AS, user.pw_name, "--"]


def run_as_test_user(probe: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``probe`` as TEST_USER (cwd /, a minimal environment) and return what it did."""
    env = {"PATH": os.environ.get("PATH", SYSTEM_PATH), "LANG": "C.UTF-8", "HOME": "/"}
    return subprocess.run([*exec_as_prefix(), *probe], capture_output=True, text=True,
                          timeout=60, cwd="/", env=env, check=False)


def _probe_ok(probe: Sequence[str]) -> tuple[bool, str]:
    """True when ``probe`` ran as TEST_USER: exit 0 and the test user's uid printed last."""
    result = run_as_test_user(probe)
    last = result.stdout.strip().splitlines()[-1:]
    ok = result.returncode == 0 and last == [str(ensure_test_user().pw_uid)]
    return ok, result.stderr.strip()[-300:]


def drop_prefix(probe: list[str]) -> list[str]:
    """Command prefix that runs a command as TEST_USER ([] when we are not root).

    ``probe`` must exit 0 and print the effective uid last (like ``id -u``) when run with the
    prefix; RuntimeError says why not. The answer is cached per probe.
    """
    if os.geteuid() != 0:
        return []
    key = tuple(probe)
    if key not in _PREFIXES:
        ok, error = _probe_ok(probe)
        if not ok:
            raise RuntimeError(
                f"cannot run {probe[0]} as the unprivileged user {TEST_USER!r}: {error}; make "
                "it readable for that user (e.g. chmod o+x on its parent directories)")
        _PREFIXES[key] = exec_as_prefix()
    return _PREFIXES[key]


def _import_probe(python: str, modules: Sequence[str]) -> list[str]:
    imports = "".join(f", {m}" for m in modules)
    return [python, "-c", f"import os{imports}; print(os.geteuid())"]


@functools.cache
def unpriv_python(modules: tuple[str, ...], packages: tuple[str, ...] = ()) -> str:
    """An interpreter TEST_USER can execute that imports ``modules`` (sys.executable if not root).

    This interpreter when the test user can run it and import them; otherwise the venv of
    `user_venv` (``packages``: the distributions to install there). Cached per process; the
    venv is cached on disk.
    """
    if os.geteuid() != 0 or _probe_ok(_import_probe(sys.executable, modules))[0]:
        return sys.executable
    python = str(user_venv(base_python(), packages) / "bin" / "python")
    ok, error = _probe_ok(_import_probe(python, modules))
    if not ok:
        raise RuntimeError(f"the test user's venv {python} cannot import {modules}: {error}")
    return python


def base_candidates() -> list[str]:
    """Pythons a venv for the test user may be made from: this one's real interpreter first,
    then the system's of the same version, then any system python3."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = [os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)]
    for name in (version, "python3"):
        path = shutil.which(name, path=SYSTEM_PATH)
        if path:
            found.append(os.path.realpath(path))
    return list(dict.fromkeys(found))


def base_python(candidates: Sequence[str] | None = None) -> str:
    """The first of ``candidates`` (`base_candidates`) the test user can run `venv` with."""
    tried: list[str] = []
    for python in base_candidates() if candidates is None else candidates:
        ok, error = _probe_ok(
            [python, "-c", "import os, sys, venv; assert sys.version_info >= (3, 9); "
             "print(os.geteuid())"])
        if ok:
            return python
        tried.append(f"{python}: {error or 'not usable'}")
    raise RuntimeError(
        f"no Python the unprivileged user {TEST_USER!r} can run to build its venv; install "
        "Debian's python3 (apt-get install python3) or make one readable. Tried:\n"
        + "\n".join(tried))


def pins(packages: Sequence[str]) -> list[str]:
    """``packages`` at the versions installed here (unpinned when not installed here)."""
    out = []
    for name in packages:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(name)
    return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _trusted(path: Path) -> bool:
    """A real directory of ours that nobody else can write to."""
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def user_venv(base: str, packages: Sequence[str], root: Path | None = None) -> Path:
    """A venv made from ``base`` with ``packages`` (pinned as here), readable by everyone.

    Built once (under a lock, so parallel test processes build it once) in ``root``
    (default CACHE_ROOT), named by
    a digest of the base interpreter and the pins; ``.complete`` marks a finished build.
    pip is this interpreter's, run as root (`pip --python`), with this machine's pip
    configuration (index, wheel cache); the venv itself gets no pip.
    """
    root = CACHE_ROOT if root is None else root
    wanted = pins(packages)
    digest = hashlib.sha256(
        "\n".join([base, str(os.stat(base).st_mtime_ns), *wanted]).encode()).hexdigest()[:16]
    venv = root / f"ntrbot-unpriv-{digest}"
    with _locked(root / f"{venv.name}.lock"):
        if os.path.lexists(venv):
            if _trusted(venv) and (venv / ".complete").exists():
                return venv
            if os.path.islink(venv):
                raise RuntimeError(f"{venv} is a symlink; remove it")
            shutil.rmtree(venv)  # a half-built one, or not ours
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True,
                       capture_output=True, timeout=300)
        if wanted:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                 "install", "--no-input", "--disable-pip-version-check", "--quiet", *wanted],
                capture_output=True, text=True, timeout=900, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"cannot install {wanted} into {venv}: "
                                   f"{(result.stderr or result.stdout)[-2000:]}")
        for top, dirs, files in os.walk(venv):
            for name in [top, *(os.path.join(top, d) for d in dirs)]:
                os.chmod(name, 0o755)
            for name in files:
                path = os.path.join(top, name)
                if not os.path.islink(path):
                    mode = (os.stat(path).st_mode | 0o444) & 0o755
                    os.chmod(path, mode | 0o011 if mode & 0o100 else mode)
        (venv / ".complete").write_text(" ".join(wanted) + "\n")
        return venv


def give_to_test_user(path: Path) -> None:
    """chown ``path`` (recursively) to TEST_USER when running as root; no-op otherwise."""
    if os.geteuid() != 0:
        return
    user = ensure_test_user()
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for entry in dirs + files:
            os.chown(os.path.join(root, entry), user.pw_uid, user.pw_gid, follow_symlinks=False)
