"""Build the one-file `ntrbot` executable with PyInstaller, from ntrbot's runtime deps only."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "scripts" / "ntrbot.spec"


class BuildError(Exception):
    """The binary cannot be built; `str()` says why in one line."""


def build_venv(target: Path) -> Path:
    """A venv holding only the checkout's runtime dependencies and the `binary` extra
    (PyInstaller, tzdata, certifi), linked from this environment: what the analysis can
    see is what ntrbot needs, not the test and development tools installed beside it."""
    from bench import runtime_venv

    try:
        dists = runtime_venv.closure(runtime_venv.checkout_requirements(("binary",)))
    except md.PackageNotFoundError as exc:
        raise BuildError(f"{exc.name or exc} is not installed: "
                         "pip install -e '.[binary]'") from None
    if target.exists():
        shutil.rmtree(target)
    return runtime_venv.build(target, dists)


def build(dist: Path, work: Path) -> Path:
    """Build `dist/ntrbot` (PyInstaller's work files in `work`); return its path."""
    python = build_venv(work / "venv")
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    proc = subprocess.run(
        [str(python), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work / "pyinstaller"), str(SPEC)],
        cwd=REPO, env=env, check=False)
    exe = dist / "ntrbot"
    if proc.returncode != 0 or not exe.is_file():
        raise BuildError(f"PyInstaller failed (exit {proc.returncode}); see its output above")
    return exe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/build-binary", description=__doc__)
    parser.add_argument("--dist", type=Path, default=REPO / "dist",
                        help="where to write ntrbot (default: dist/)")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "binary",
                        help="PyInstaller's work files and the build venv (default: "
                             "build/binary/)")
    args = parser.parse_args(argv)
    try:
        exe = build(args.dist.resolve(), args.work.resolve())
    except BuildError as exc:
        print(f"scripts/build-binary: {exc}", file=sys.stderr)
        return 1
    print(f"{exe} ({exe.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
