"""The soak bench, short: 3 compressed show nights on one real ntrbot; counts only, no times."""

from __future__ import annotations

import pytest

from bench.soak import soak
from bench.soak_figures import Counts

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(400)
async def test_three_short_nights_lose_nothing_and_leak_nothing() -> None:
    counts = Counts(announces=8, queued_in_outage=2, delayed=2, cancelled=1, public=20,
                    reads=30, dashboards=1, drops=1)
    result = await soak(3, counts, "miniircd", show=False)
    nights = result.nights
    assert len(nights) == 3
    for n in nights:
        assert n.not_final == 0, nights  # every announcement final
        assert n.lines == n.delivered, nights  # each delivered line once in the channel
        assert n.announced == 8, nights
    assert nights[-1].lines == 3 * (8 - 1)  # all but the cancelled ones aired
    # flat: nothing left open night after night (a little slack for pooled connections)
    assert nights[-1].fds - nights[0].fds <= 3, nights
    assert nights[-1].tasks - nights[0].tasks <= 2, nights
    assert nights[-1].threads - nights[0].threads <= 2, nights
