"""format_announce keeps a very long title's artist and URL: title, then artist, shortened."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ntrbot.announcing.message import MIN_FIELD, format_announce
from ntrbot.irc.lines import ANNOUNCE_ROOM, ELLIPSIS, privmsg_budget, safe_line
from ntrbot.settings import DEFAULT_ANNOUNCE_FORMAT
from ntrbot.store.models import Show, ShowTrack, Track

WHEN = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
URL = "https://soundcloud.com/rat-kings/rattle-the-grates"


def line(title: str, artist: str, template: str = DEFAULT_ANNOUNCE_FORMAT,
         url: str = URL) -> str:
    return format_announce(template, Show(1, WHEN, WHEN, 1),
                           ShowTrack(3, Track(1, title, artist, url), WHEN))


def test_a_line_that_fits_is_left_alone() -> None:
    title = "T" * 200  # long, but the line is within the room
    assert line(title, "The Rat Kings") == f"Now Playing: Song #3: {title} by The Rat Kings - {URL}"


@pytest.mark.parametrize("title", ["Ü" * 300, "Rattle the Grates " * 30, "🐀" * 200, "x" * 5000])
def test_a_long_title_is_shortened_and_the_artist_and_url_kept(title: str) -> None:
    got = line(title, "The Rat Kings")
    assert len(got.encode("utf-8")) <= ANNOUNCE_ROOM
    assert got.endswith(f"{ELLIPSIS} by The Rat Kings - {URL}")
    assert got.startswith("Now Playing: Song #3: " + title[:20])


def test_a_long_artist_is_shortened_after_the_title() -> None:
    got = line("Rattle the Grates", "A" * 500)
    assert got.startswith("Now Playing: Song #3: Rattle the Grates by AAA")
    assert got.endswith(f"A{ELLIPSIS} - {URL}") and len(got.encode()) <= ANNOUNCE_ROOM


def test_both_long_keep_at_least_min_field_of_each() -> None:
    got = line("T" * 400, "A" * 400)
    assert len(got.encode()) <= ANNOUNCE_ROOM and got.endswith(URL)
    head = got.removeprefix("Now Playing: Song #3: ")
    title, _, rest = head.partition(" by ")
    assert title.endswith(ELLIPSIS) and len(title.encode()) >= MIN_FIELD - 3
    assert rest.startswith("A") and ELLIPSIS in rest


def test_a_template_without_the_fields_is_not_touched() -> None:
    got = line("T" * 600, "A", template="{permalink_url}")
    assert got == URL


def test_the_irc_cut_then_leaves_the_shortened_line_whole() -> None:
    """On a link with a 16-byte nick and a 32-byte channel nothing more is cut."""
    got = line("Ü" * 300, "The Rat Kings")
    channel = "#" + "c" * 31
    assert privmsg_budget("n" * 16, channel) == ANNOUNCE_ROOM
    assert safe_line(got, nick="n" * 16, target=channel) == got
