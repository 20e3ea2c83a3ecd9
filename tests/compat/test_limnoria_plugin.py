"""Runs the Limnoria plugin's own supybot-test suite (compat/limnoria/NtrPlaylist/test.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.compat_plugins import LIMNORIA_DIR


def supybot_test_command(plugin_dir: Path) -> list[str]:
    """`supybot-test <plugin dir>`, run by this interpreter so the same packages are used."""
    exe = shutil.which("supybot-test")
    if exe is not None and Path(exe).resolve().parent == Path(sys.executable).resolve().parent:
        return [exe, str(plugin_dir)]
    return [sys.executable, "-m", "supybot.scripts.limnoria_test", str(plugin_dir)]


def test_supybot_test_suite_passes(tmp_path: Path) -> None:
    plugin_dir = LIMNORIA_DIR / "NtrPlaylist"
    # supybot-test writes tmp/ and web/ into its working directory: keep that out of the repo
    result = subprocess.run(
        supybot_test_command(plugin_dir),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "\nOK" in output, output
    ran = re.search(r"Ran (\d+) tests?", output)
    assert ran is not None and int(ran.group(1)) >= 13, output
