"""Fixtures for the compat plugin tests: the ntrbot stand-in and the plugin modules."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.support import bots
from tests.support.compat_plugins import SOPEL_PLUGIN, TOKEN, load_module, sample_shows
from tests.support.standins import NtrStandIn


def _starts_bots(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return module is not None and any(
        getattr(v, "__module__", None) == bots.__name__ for v in vars(module).values())


def pytest_collection_finish(session: pytest.Session) -> None:
    """As root, get the bots' interpreter (`bots.bot_python`: a venv built once per machine)
    before the first test, off its timeout, when a collected test starts the real bots."""
    if session.config.option.collectonly or os.geteuid() != 0:
        return
    if any(_starts_bots(item) for item in session.items):
        with contextlib.suppress(Exception):  # the test that needs it reports the error
            bots.bot_python()


@pytest.fixture(scope="session")
def sopel_module() -> ModuleType:
    """compat/sopel/ntr_playlist.py, imported standalone."""
    return load_module(SOPEL_PLUGIN, "ntr_playlist_under_test")


@pytest.fixture
def standin() -> Iterator[NtrStandIn]:
    """A running stand-in of ntrbot's API and announce hub on a loopback port."""
    server = NtrStandIn(TOKEN, sample_shows()).start()
    try:
        yield server
    finally:
        server.stop()
