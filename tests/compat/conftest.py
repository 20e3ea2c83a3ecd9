"""Fixtures for the compat plugin tests: the ntrbot stand-in and the plugin modules."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.support.compat_plugins import SOPEL_PLUGIN, TOKEN, load_module, sample_shows
from tests.support.standins import NtrStandIn


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
