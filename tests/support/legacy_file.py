"""The old FastAPI service's SQLite file, made for import-legacy tests."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

W1 = datetime(2026, 2, 26, 3, 0, tzinfo=UTC)   # 22:00 EST
W2 = W1 + timedelta(days=7)
W3 = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)   # 22:00 EDT (after the DST change)
W4 = W3 + timedelta(days=7)

OLD_SCHEMA = """
CREATE TABLE shows (id INTEGER PRIMARY KEY, week_start TEXT NOT NULL, week_end TEXT NOT NULL,
                    created_at TEXT);
CREATE TABLE tracks (id INTEGER PRIMARY KEY, title TEXT, artist TEXT, permalink_url TEXT,
                     artwork_url TEXT, duration_ms INTEGER, license TEXT, liked_at TEXT,
                     raw_json TEXT);
CREATE TABLE show_tracks (show_id INTEGER, track_id INTEGER, position INTEGER,
                          PRIMARY KEY (show_id, track_id));
"""
# A later release of the old service: other column order, more columns, more tables.
NEWER_SCHEMA = """
CREATE TABLE shows (ID INTEGER PRIMARY KEY, notes TEXT, Week_End TEXT, week_start TEXT,
                    episode INTEGER, host TEXT);
CREATE TABLE tracks (liked_at TEXT, id INTEGER PRIMARY KEY, genre TEXT, title TEXT,
                     artist TEXT, permalink_url TEXT, artwork_url TEXT, duration_ms INTEGER,
                     license TEXT, waveform_url TEXT);
CREATE TABLE show_tracks (position INTEGER, track_id INTEGER, show_id INTEGER,
                          added_by TEXT);
CREATE TABLE announcements (id INTEGER PRIMARY KEY, show_id INTEGER, message TEXT);
CREATE TABLE alembic_version (version_num TEXT);
"""


def make_legacy(path: Path, schema: str = OLD_SCHEMA) -> None:
    """Three weeks of the old service: W1 (4 tracks), W2 (3 tracks), W3 (3 tracks, one of
    them shared with W1), stored out of order so that only `position` gives the order."""
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    shows = [(7, W1, W2), (8, W2, W3), (9, W3, W4)]
    for sid, start, end in shows:
        conn.execute("INSERT INTO shows (id, week_start, week_end) VALUES (?, ?, ?)",
                     (sid, start.isoformat(), end.isoformat()))
    for tid in range(101, 111):
        week = W1 if tid <= 104 else W2 if tid <= 107 else W3
        conn.execute("INSERT INTO tracks (id, title, artist, permalink_url, artwork_url, "
                     "duration_ms, license, liked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (tid, f"Old Song {tid}", f"Old Artist {tid}",
                      f"https://soundcloud.com/old/{tid}",
                      f"https://i1.sndcdn.com/artworks-{tid}-large.jpg", 200_000 + tid,
                      "cc-by", (week + timedelta(hours=tid % 10)).isoformat()))
    links = [(7, 103, 1), (7, 101, 2), (7, 104, 3), (7, 102, 4),
             (8, 107, 3), (8, 105, 1), (8, 106, 2),
             (9, 110, 2), (9, 108, 1), (9, 101, 3)]
    conn.executemany("INSERT INTO show_tracks (show_id, track_id, position) VALUES (?, ?, ?)",
                     links)
    conn.commit()
    conn.close()
