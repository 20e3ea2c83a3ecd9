"""Fixtures for the process-level tests: the SoundCloud stand-in with this week's likes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.live import live_likes


@pytest.fixture
async def live_fake() -> AsyncIterator[FakeSoundCloud]:
    """api-v2 stand-in serving LIVE_TRACKS as likes of the current show week."""
    async with FakeSoundCloud() as sc:
        sc.set_likes(live_likes())
        yield sc
