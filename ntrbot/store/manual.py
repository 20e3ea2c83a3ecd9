"""Manual tracks (not from SoundCloud): body validation and their database-allocated ids."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

import aiosqlite

from ntrbot.store.models import Track
from ntrbot.text import clean

# Id scheme. SoundCloud track ids are positive (soundcloud._as_id refuses anything else), so
# a manual track takes a negative id: one below the lowest id ever used anywhere (tracks,
# announcements, removed tracks), allocated inside the write transaction that inserts it
# (`Database.add_manual_track`). Ids are never reused and can never meet a SoundCloud id.
# Every consumer treats `id` as an opaque integer (JSON, `{id}` in the announce template,
# setlists, pages, dashboards); positions, never ids, are what users type (`!song N`).
NEXT_ID_SQL = ("SELECT MIN(0, COALESCE((SELECT MIN(id) FROM tracks), 0), "
               "COALESCE((SELECT MIN(track_id) FROM announcements), 0), "
               "COALESCE((SELECT MIN(track_id) FROM removed_tracks), 0)) - 1")
MAX_TEXT = 200
MAX_URL = 2000


def wants_manual(data: dict[str, Any]) -> bool:
    """A body with a title or an artist adds a manual track; a `url` alone resolves."""
    return data.get("title") is not None or data.get("artist") is not None


class InvalidTrack(ValueError):
    """A manual track body that cannot be used; the message names the field (HTTP: 422)."""


def _unprocessable(message: str) -> InvalidTrack:
    return InvalidTrack(message)


def clean_text(value: Any, name: str) -> str:
    """One line of text (`clean`, NFC, runs of white space one space); 422 when it is not a
    string, empty or longer than MAX_TEXT characters."""
    if not isinstance(value, str):
        raise _unprocessable(f"{name} must be a string")
    text = " ".join(clean(unicodedata.normalize("NFC", value)).split())
    if not text:
        raise _unprocessable(f"{name} must not be empty")
    if len(text) > MAX_TEXT:
        raise _unprocessable(f"{name} must be at most {MAX_TEXT} characters")
    return text


def clean_url(value: Any) -> str:
    """An absolute http(s) URL, or "" for none; 422 for anything else (javascript:, data:,
    relative, spaces or control characters, over MAX_URL characters)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _unprocessable("url must be a string")
    url = value.strip()
    if not url:
        return ""
    if len(url) > MAX_URL:
        raise _unprocessable(f"url must be at most {MAX_URL} characters")
    bad = _unprocessable("url must be an http:// or https:// URL")
    if any(c.isspace() for c in url) or clean(url) != url:  # control/bidi characters
        raise bad
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise bad from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad
    return url


def manual_track(data: dict[str, Any]) -> Track:
    """The track a manual-add body describes (id 0 until the database allocates one).

    Title and artist are both required: the announce line says "<title> by <artist>", and
    a host adding a guest's jam or a Bandcamp track knows who made it.
    """
    title = clean_text(data.get("title"), "title") if data.get("title") is not None else None
    if title is None:
        raise _unprocessable("title is required")
    if data.get("artist") is None:
        raise _unprocessable("artist is required")
    return Track(id=0, title=title, artist=clean_text(data["artist"], "artist"),
                 permalink_url=clean_url(data.get("url")))


async def next_id(c: aiosqlite.Connection) -> int:
    """The id for a new manual track; call inside the inserting transaction."""
    async with c.execute(NEXT_ID_SQL) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def duplicate_in_show(c: aiosqlite.Connection, show_id: int, track: Track) -> bool:
    """Whether the show already has a manual track with this title, artist and URL."""
    async with c.execute(
            "SELECT 1 FROM show_tracks st JOIN tracks t ON t.id = st.track_id "
            "WHERE st.show_id = ? AND t.id < 0 AND t.title = ? AND t.artist = ? "
            "AND t.permalink_url = ? LIMIT 1",
            (show_id, track.title, track.artist, track.permalink_url)) as cur:
        return await cur.fetchone() is not None
