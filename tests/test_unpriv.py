"""tests.support.unpriv as root: a process as the test user, from an interpreter it can read."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import unpriv

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root drops privileges")


@pytest.fixture
def hidden_python(tmp_path: Path) -> str:
    """This interpreter, reached through a 0700 directory of root's (as a venv under /root)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    link = home / "python3"
    link.symlink_to(os.path.realpath(sys.executable))
    return str(link)


@pytest.fixture
def cache_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ntrbot-unpriv-test-"))
    root.chmod(0o755)
    monkeypatch.setattr(unpriv, "CACHE_ROOT", root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_process_is_the_command_itself_with_its_own_exit_status() -> None:
    """SIGTERM reaches the command and the exit status is its own (runuser exits -15)."""
    prefix = unpriv.drop_prefix(["sh", "-c", "id -u"])
    script = "trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done"
    proc = subprocess.Popen([*prefix, "sh", "-c", script], stdout=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uid = unpriv.ensure_test_user().pw_uid
        assert f"Uid:\t{uid}\t{uid}\t{uid}" in status
        assert Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sh", b"-c"]
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 3
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_probe_the_test_user_cannot_run_says_why(hidden_python: str) -> None:
    with pytest.raises(RuntimeError, match="Permission denied"):
        unpriv.drop_prefix([hidden_python, "-c", "import os; print(os.geteuid())"])


def test_a_python_under_a_0700_home_is_replaced_by_a_readable_venv(
        hidden_python: str, cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not unpriv.run_as_test_user([hidden_python, "-c", "pass"]).returncode == 0
    monkeypatch.setattr(sys, "executable", hidden_python)
    unpriv.unpriv_python.cache_clear()
    try:
        python = unpriv.unpriv_python(("json",))
    finally:
        unpriv.unpriv_python.cache_clear()
    assert Path(python).parent.parent.parent == cache_root
    assert (Path(python).parent.parent / ".complete").exists()
    ran = unpriv.run_as_test_user([python, "-c", "import json, os, sys; print(sys.prefix)"])
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == str(Path(python).parent.parent)


def test_base_python_skips_what_the_test_user_cannot_run(hidden_python: str) -> None:
    base = unpriv.base_python([hidden_python, *unpriv.base_candidates()])
    assert base != hidden_python
    assert unpriv.run_as_test_user([base, "-c", "import venv"]).returncode == 0
