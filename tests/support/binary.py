"""The one-file `ntrbot` executable for tests: built once per test run, run in a bare env."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 900.0


def built_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dist/ntrbot` built by scripts/build-binary from this checkout, once per pytest run.

    Under pytest-xdist every worker has its own session; the build goes to the run's shared
    temp directory under a lock, so the first worker builds and the others wait and reuse it
    (a failed build is not retried: every worker fails with its output). Skips only when
    PyInstaller is not installed.
    """
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install -e '.[binary]'; scripts/test "
                    "installs it)")
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run, new for every run
    root = base / "ntrbot-binary"
    root.mkdir(exist_ok=True)
    exe, failed = root / "dist" / "ntrbot", root / "build-failed.txt"
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.is_file() and not failed.exists():
            proc = subprocess.run(
                [sys.executable, "-m", "scripts.build_binary", "--dist", str(root / "dist"),
                 "--work", str(root / "work")],
                cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
            if proc.returncode != 0 or not exe.is_file():
                failed.write_text(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    if failed.exists():
        pytest.fail(f"scripts/build-binary failed:\n{failed.read_text()[-4000:]}")
    return exe


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What `env -i HOME=home PATH=/usr/bin:/bin` leaves: no venv, no PYTHON*, no locale,
    plus `extra`."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", **extra}
