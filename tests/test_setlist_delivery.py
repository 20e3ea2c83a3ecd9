"""Setlists tell what aired: confirmed times, and announces that never aired listed apart."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from ntrbot.deliveries import DeliveryState
from ntrbot.store import setlist
from ntrbot.store.models import Announcement, OutputDelivery, Show, ShowTrack, Track

START = datetime(2026, 3, 11, 22, 0, tzinfo=UTC)


def show() -> Show:
    tracks = [ShowTrack(i, Track(100 + i, f"Song {i}", f"Artist {i}",
                                 f"https://soundcloud.com/a/{i}"), START - timedelta(days=1))
              for i in range(1, 5)]
    return Show(1, START, START + timedelta(days=7), 12, tracks)


def ann(n: int, position: int, state: str, *, minutes: int, confirmed_after: float = 0.0
        ) -> Announcement:
    at = START + timedelta(minutes=minutes)
    delivered = at + timedelta(seconds=confirmed_after) if state == "delivered" else None
    return Announcement(n, 1, position, 100 + position, f"line {position}", at, "web",
                        DeliveryState(state),
                        delivered_at=delivered,
                        deliveries=(OutputDelivery("irc:#sewerchat", DeliveryState(state), "",
                                                   at),))


ANNS = [ann(1, 2, "delivered", minutes=5, confirmed_after=30),
        ann(2, 1, "failed", minutes=9),
        ann(3, 3, "delivered", minutes=12)]


def test_played_rows_use_the_confirmed_time_and_failed_ones_stand_apart() -> None:
    rows = setlist.build(show(), ANNS)
    assert [(r.position, r.played, r.never_aired) for r in rows] == [
        (2, True, None), (3, True, None), (1, False, "failed"), (4, False, None)]
    assert rows[0].offset_seconds == 5 * 60 + 30  # delivered_at, not announced_at
    assert rows[0].announce_count == 1 and rows[2].announce_count == 0


def test_a_track_that_aired_after_a_failure_is_played() -> None:
    retry = ann(4, 1, "delivered", minutes=10)
    rows = setlist.build(show(), [*ANNS, retry])
    row = next(r for r in rows if r.position == 1)
    assert row.played and row.never_aired is None and row.offset_seconds == 600


def test_exports_list_never_aired_apart() -> None:
    rows = setlist.build(show(), ANNS)
    md = setlist.render(show(), rows, "md")
    played, rest = md.split("## Announced, never aired")
    assert "Song 2" in played and "Song 3" in played and "Song 1" not in played
    assert "Song 1" in rest.split("## Not announced")[0] and "never aired (failed)" in rest
    txt = setlist.render(show(), rows, "txt")
    assert txt.index("Announced, never aired:") < txt.index("Song 1")
    table = list(csv.DictReader(io.StringIO(setlist.render(show(), rows, "csv"))))
    assert [r["outcome"] for r in table] == ["played", "played", "never aired: failed",
                                             "not announced"]
    data = json.loads(setlist.render(show(), rows, "json"))
    assert [r["never_aired"] for r in data["setlist"]] == [None, None, "failed", None]
