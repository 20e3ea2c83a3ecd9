"""The compat plugins under test (Sopel, Limnoria): their paths, a loader, sample shows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.support.standins import show, track

ROOT = Path(__file__).resolve().parents[2]
SOPEL_DIR = ROOT / "compat" / "sopel"
SOPEL_PLUGIN = SOPEL_DIR / "ntr_playlist.py"
LIMNORIA_DIR = ROOT / "compat" / "limnoria"
LIMNORIA_CLIENT = LIMNORIA_DIR / "NtrPlaylist" / "ntrclient.py"
TOKEN = "compat-test-token"


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file under a private module name (so Sopel's own load stays separate)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def sample_shows() -> list[dict[str, Any]]:
    """Current show (episode 42) first, then the previous one (41)."""
    return [
        show(2, 42, [track(1, "First Song"), track(2, "Second\r\nSong"), track(3, "Third")]),
        show(1, 41, [track(1, "Old One"), track(2, "Old Two")]),
    ]
