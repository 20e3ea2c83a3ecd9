"""A venv holding only ntrbot's runtime dependencies, linked from this environment (offline).

A development environment carries test tools that change what ntrbot's imports pull in
(httpx imports its CLI's `rich`/`click` when they are installed, httpcore imports `trio`),
so start-up time and memory are measured the way ntrbot is deployed: a venv with the
runtime dependency closure of `ntrbot` only (the same versions, symlinked from this
environment's site-packages, so no download), running the checkout's code from compiled
bytecode, as `pip install` leaves it.
"""

from __future__ import annotations

import compileall
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = "ntrbot") -> list[md.Distribution]:
    """`root`'s installed distribution and everything it needs at run time (no extras)."""
    dist = md.distribution(root)
    return closure([Requirement(text) for text in dist.requires or []],
                   skip={_canonical(root)})


def checkout_requirements(extras: tuple[str, ...] = ()) -> list[Requirement]:
    """The runtime dependencies this checkout's pyproject.toml declares, plus `extras`'."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def closure(requirements: list[Requirement],
            skip: set[str] | None = None) -> list[md.Distribution]:
    """The installed distributions `requirements` name and all they need (markers of this
    interpreter, no extras below the first level); a missing one raises
    PackageNotFoundError naming it."""
    env = {"extra": ""}
    seen: dict[str, md.Distribution] = {}
    todo = [r for r in requirements if r.marker is None or r.marker.evaluate(env)]
    while todo:
        req = todo.pop()
        name = _canonical(req.name)
        if name in seen or name in (skip or set()):
            continue
        dist = md.distribution(name)
        seen[name] = dist
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or sub.marker.evaluate(env):
                todo.append(sub)
    return [d for _, d in sorted(seen.items())]


def _top_level_entries(dist: md.Distribution) -> set[Path]:
    base = Path(str(dist.locate_file("")))
    entries: set[Path] = set()
    for file in dist.files or []:
        parts = Path(str(file)).parts
        if parts and parts[0] != ".." and not parts[0].startswith("__editable__"):
            entries.add(base / parts[0])
    return entries


def build(target: Path, dists: list[md.Distribution] | None = None) -> Path:
    """Create the venv in `target` holding `dists` (default: ntrbot's runtime closure);
    return its python. The checkout's `ntrbot` is compiled."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    purelib = subprocess.run([str(python), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    site = Path(purelib)
    for dist in runtime_closure() if dists is None else dists:
        for entry in _top_level_entries(dist):
            link = site / entry.name
            if entry.exists() and not link.exists():
                link.symlink_to(entry)
    compile_checkout()
    return python


def compile_checkout() -> None:
    """Compile the checkout's `ntrbot` to bytecode, as `pip install` leaves an install.

    A checkout run with PYTHONDONTWRITEBYTECODE would otherwise be compiled from source at
    every start, which costs start-up time and memory that a deployment does not have.
    """
    if not compileall.compile_dir(str(REPO / "ntrbot"), quiet=1):
        raise RuntimeError(f"could not compile {REPO / 'ntrbot'} to bytecode (see above); "
                           "start-up figures would include compiling it at every start")


def describe_site(python: Path) -> str:
    """The distributions `python` can import (and their versions), in one line."""
    code = ("import importlib.metadata as md; print(', '.join(sorted("
            "f\"{d.metadata['Name']} {d.version}\" for d in md.distributions())))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                         check=False).stdout.strip()
    return f"{out.count(',') + 1 if out else 0} distributions: {out}"


if __name__ == "__main__":
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="ntrbot-runtime-venv-"))
    py = build(where / "venv")
    print(py, describe_site(py))
