"""`ntrbot import-legacy`: the old FastAPI service's SQLite file, merged by the real command."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ntrbot.store.db import Database
from ntrbot.store.models import Track
from tests.support.constants import ADMIN_TOKEN
from tests.support.legacy_file import NEWER_SCHEMA, make_legacy

REPO = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("America/New_York")
# Show weeks as the old service stored them (Wed 22:00 New York, in UTC).
W1 = datetime(2026, 2, 26, 3, 0, tzinfo=UTC)   # 22:00 EST
W2 = W1 + timedelta(days=7)
W3 = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)   # 22:00 EDT (after the DST change)
W4 = W3 + timedelta(days=7)

def run(*args: str, db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTR_")}
    env.update({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_DB_PATH": str(db),
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH"))
                                              if p)})
    return subprocess.run([sys.executable, "-m", "ntrbot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


async def playlists(db_path: Path) -> dict[str, list[int]]:
    """{week_start (UTC ISO): track ids in order} of every show in the ntrbot database."""
    db = await Database.open(str(db_path), TZ)
    try:
        shows, _ = await db.shows(100, 0)
        out = {}
        for s in shows:
            full = await db.show(s.id)
            assert full is not None
            out[s.week_start.astimezone(UTC).isoformat()] = [t.track.id for t in full.tracks]
        return out
    finally:
        await db.close()


async def seed_w3(db_path: Path) -> int:
    """ntrbot already has W3: its own like (501), one old track, a host edit, an announce."""
    db = await Database.open(str(db_path), TZ)
    try:
        t = Track(501, "New Song", "New Artist", "https://soundcloud.com/new/501")
        old = Track(108, "Renamed by SoundCloud", "Old Artist 108",
                    "https://soundcloud.com/old/108")
        await db.save_playlists([t, old], {(W3.astimezone(TZ), W4.astimezone(TZ)): [
            (108, W3 + timedelta(hours=1), "like"), (501, W3 + timedelta(hours=2), "like")]})
        sid = await db.show_id_at(W3 + timedelta(hours=1))
        assert sid is not None
        assert await db.move_track(sid, 2, 1)  # a host edit: 501 first
        await db.announcements.record_announcement(sid, 1, 501, "Now Playing: Song #1", W3,
                                                   "web:host", "sent")
        return sid
    finally:
        await db.close()


def test_import_merges_old_shows_and_is_idempotent(tmp_path: Path) -> None:
    legacy, db = tmp_path / "ntr_fetcher.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    sid = asyncio.run(seed_w3(db))

    dry = run("import-legacy", str(legacy), "--dry-run", db=db, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1] == (
        "dry run: 2 shows, 9 tracks would be imported, 1 show already present; nothing written")
    assert dry.stdout.strip().splitlines()[:-1] == [
        "week of 2026-02-25: new show, 4 of 4 tracks to add",
        "week of 2026-03-04: new show, 3 of 3 tracks to add",
        "week of 2026-03-11: already present, 2 of 3 tracks to add"]
    assert asyncio.run(playlists(db)) == {W3.isoformat(): [501, 108]}  # nothing written

    proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert one_line(proc.stdout) == "2 shows, 9 tracks imported, 1 show already present"
    got = asyncio.run(playlists(db))
    assert got == {
        W1.isoformat(): [103, 101, 104, 102],      # the old position order
        W2.isoformat(): [105, 106, 107],
        W3.isoformat(): [501, 108, 110, 101],      # ntrbot's order kept, the rest appended
    }

    async def check_w3() -> None:
        d = await Database.open(str(db), TZ)
        try:
            anns = await d.announcements.for_show(sid)
            assert [(a.track_id, a.who) for a in anns] == [(501, "web:host")]
            show = await d.show(sid)
            assert show is not None
            assert show.tracks[1].track.title == "Renamed by SoundCloud"  # stored data wins
            w1 = await d.show_at(W1 + timedelta(days=1))
            assert w1 is not None and w1.tracks[0].track.duration_ms == 200_103
            assert w1.tracks[0].track.artwork_url == "https://i1.sndcdn.com/artworks-103-large.jpg"
            assert w1.tracks[0].liked_at == W1 + timedelta(hours=3)
            assert await d.integrity_ok()
        finally:
            await d.close()

    asyncio.run(check_w3())

    again = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert one_line(again.stdout) == "0 shows, 0 tracks imported, 3 shows already present"
    assert asyncio.run(playlists(db)) == got


def test_import_keeps_a_track_the_host_removed_out(tmp_path: Path) -> None:
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)

    async def seed() -> None:
        d = await Database.open(str(db), TZ)
        try:
            await d.save_playlists([Track(110, "T", "A", "https://soundcloud.com/x")],
                                   {(W3.astimezone(TZ), W4.astimezone(TZ)): [
                                       (110, W3 + timedelta(hours=1), "like")]})
            sid = await d.show_id_at(W3)
            assert sid is not None
            await d.remove_track(sid, 1, W3 + timedelta(hours=2))
        finally:
            await d.close()

    asyncio.run(seed())
    proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    assert one_line(proc.stdout) == "2 shows, 9 tracks imported, 1 show already present"
    assert asyncio.run(playlists(db))[W3.isoformat()] == [108, 101]


def test_dry_run_without_a_database_creates_none(tmp_path: Path) -> None:
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    proc = run("import-legacy", str(legacy), "--dry-run", db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == (
        "dry run: 3 shows, 10 tracks would be imported, 0 shows already present; "
        "nothing written")
    assert not db.exists()


def test_a_newer_schema_is_read_by_column_name(tmp_path: Path) -> None:
    legacy, db = tmp_path / "newer.db", tmp_path / "ntrbot.db"
    make_legacy(legacy, NEWER_SCHEMA)
    with sqlite3.connect(legacy) as conn:
        conn.execute("UPDATE shows SET episode = 40 + id, notes = 'x'")
        conn.execute("INSERT INTO announcements (show_id, message) VALUES (7, 'hi')")
    proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert one_line(proc.stdout) == "3 shows, 10 tracks imported, 0 shows already present"
    got = asyncio.run(playlists(db))
    assert got[W1.isoformat()] == [103, 101, 104, 102]
    assert got[W3.isoformat()] == [108, 110, 101]

    async def episodes() -> list[int | None]:
        d = await Database.open(str(db), TZ)
        try:
            shows, _ = await d.shows(10, 0)
            return [s.episode for s in shows]
        finally:
            await d.close()

    assert asyncio.run(episodes()) == [49, 48, 47]


@pytest.mark.parametrize("kind", ["garbage", "empty-sqlite", "missing-column", "missing-file",
                                  "locked", "bad-time"])
def test_not_such_a_database_is_one_line_and_exit_1(tmp_path: Path, kind: str) -> None:
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    holder: sqlite3.Connection | None = None
    if kind == "garbage":
        legacy.write_bytes(b"this is not a database at all\n" * 200)
    elif kind == "empty-sqlite":
        sqlite3.connect(legacy).execute("CREATE TABLE other (x)").connection.close()
    elif kind == "missing-column":
        make_legacy(legacy)
        with sqlite3.connect(legacy) as conn:
            conn.execute("ALTER TABLE show_tracks RENAME COLUMN position TO pos")
    elif kind == "locked":
        make_legacy(legacy)
        holder = sqlite3.connect(legacy, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    elif kind == "bad-time":
        make_legacy(legacy)
        with sqlite3.connect(legacy) as conn:
            conn.execute("UPDATE shows SET week_start = 'last tuesday' WHERE id = 8")
    try:
        proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    finally:
        if holder is not None:
            holder.close()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith(f"ntrbot: {legacy}: "), line
    assert proc.stdout == ""
    expected = {"garbage": "not an SQLite database", "empty-sqlite": "no table 'shows'",
                "missing-column": "has no column 'position'", "missing-file": "no such file",
                "locked": "locked", "bad-time": "not an ISO-8601 time"}[kind]
    assert expected in line
    if db.exists():  # nothing half-imported
        assert asyncio.run(playlists(db)) == {}


def test_a_locked_ntrbot_database_is_one_line_and_nothing_half_written(tmp_path: Path) -> None:
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    asyncio.run(seed_w3(db))
    holder = sqlite3.connect(db, isolation_level=None)  # another writer holds it
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    finally:
        holder.close()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith(f"ntrbot: cannot write database {db}: ") and "locked" in line
    assert asyncio.run(playlists(db)) == {W3.isoformat(): [501, 108]}


def test_odd_rows_are_skipped_not_fatal(tmp_path: Path) -> None:
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    with sqlite3.connect(legacy) as conn:  # dangling links, NULL ids, a bad position
        conn.execute("INSERT INTO show_tracks (show_id, track_id, position) VALUES "
                     "(7, 999, 5), (42, 101, 1), (NULL, 102, 1), (8, NULL, 9)")
        conn.execute("UPDATE show_tracks SET position = 'x' WHERE show_id = 8 AND "
                     "track_id = 107")  # not a number: sorts first
    proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert one_line(proc.stdout) == "3 shows, 10 tracks imported, 0 shows already present"


async def test_old_data_cannot_smuggle_links_or_control_characters(tmp_path: Path) -> None:
    old = tmp_path / "ntr_fetcher.db"
    make_legacy(old)
    conn = sqlite3.connect(old)
    conn.execute("UPDATE tracks SET permalink_url = 'javascript:alert(1)', "
                 "title = 'Evil' || char(13) || char(10) || 'QUIT' WHERE id = 101")
    conn.commit()
    conn.close()
    db_path = tmp_path / "ntrbot.db"
    assert run("import-legacy", str(old), db=db_path, cwd=tmp_path).returncode == 0
    db = await Database.open(str(db_path), TZ)
    try:
        track = (await db.tracks_by_id([101]))[101]
    finally:
        await db.close()
    assert track.permalink_url == "" and track.title == "Evil QUIT"


# --- a hostile file ------------------------------------------------------------------

def test_a_view_is_never_read(tmp_path: Path) -> None:
    """A recursive view (one grew to 2.9 GB in 60 s, --dry-run too) is not a table: refused
    at once, without running it."""
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    with sqlite3.connect(legacy) as conn:
        conn.execute("ALTER TABLE tracks RENAME TO real_tracks")
        conn.execute("CREATE VIEW tracks AS WITH RECURSIVE c(x) AS (SELECT 101 UNION ALL "
                     "SELECT x + 1 FROM c LIMIT 200000) SELECT x AS id, 'T' AS title, "
                     "'A' AS artist, 'https://x.example/' || x AS permalink_url FROM c")
    for args in (("--dry-run",), ()):
        proc = run("import-legacy", str(legacy), *args, db=db, cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "'tracks' is a view, not a table" in one_line(proc.stderr)
    assert not db.exists() or asyncio.run(playlists(db)) == {}


def test_hostile_values_are_skipped_each_with_one_line(tmp_path: Path) -> None:
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    with sqlite3.connect(legacy) as conn:
        conn.execute("UPDATE tracks SET title = ? WHERE id = 101", ("x" * 5_000_000,))
        conn.execute("UPDATE tracks SET permalink_url = ? WHERE id = 102",
                     ("https://x.example/" + "u" * 3000,))
        conn.execute("UPDATE tracks SET artwork_url = ?, duration_ms = 1e300 WHERE id = 103",
                     ("https://x.example/" + "a" * 3000,))
        conn.execute("UPDATE tracks SET id = -5 WHERE id = 105")  # a manual track's range
        conn.execute("UPDATE tracks SET id = 9223372036854775807 WHERE id = 106")
        conn.execute("ALTER TABLE shows ADD COLUMN episode")
        conn.execute("UPDATE shows SET episode = 1e20 WHERE id = 7")
        conn.execute("UPDATE shows SET episode = 12 WHERE id = 8")
        conn.execute("UPDATE show_tracks SET position = 9e999 WHERE track_id = 107")
    proc = run("import-legacy", str(legacy), db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    notes = proc.stderr.strip().splitlines()
    assert all(n.startswith(f"ntrbot: {legacy}: ") and len(n) < 300 for n in notes), notes
    text = "\n".join(notes)
    for expected in ("track 101: title longer than 1000 characters; track skipped",
                     "track 102: permalink_url longer than 2048 characters; track skipped",
                     "track 103: artwork_url longer than 2048", "track 103: duration_ms",
                     "track id -5 is not a SoundCloud id",
                     "track id 9223372036854775807 is not a SoundCloud id",
                     "show 7: episode 1e+20 is not 0-1000000000"):
        assert expected in text, text
    assert len(notes) == 7
    assert one_line(proc.stdout) == "3 shows, 5 tracks imported, 0 shows already present"
    weeks = asyncio.run(playlists(db))
    assert weeks[W1.isoformat()] == [103, 104]
    assert weeks[W2.isoformat()] == [107]
    assert weeks[W3.isoformat()] == [108, 110]


def test_a_value_over_sqlite_s_length_limit_is_one_line(tmp_path: Path) -> None:
    """Values over 8 MB are not even read: SQLite's length limit on the reading connection."""
    legacy, db = tmp_path / "old.db", tmp_path / "ntrbot.db"
    make_legacy(legacy)
    with sqlite3.connect(legacy) as conn:
        conn.execute("UPDATE tracks SET title = zeroblob(10000000) WHERE id = 101")
    proc = run("import-legacy", str(legacy), "--dry-run", db=db, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "string or blob too big" in one_line(proc.stderr)


def test_reading_is_cut_at_its_time_cap(tmp_path: Path) -> None:
    from ntrbot.tools.legacy import LegacyError, read_legacy

    legacy = tmp_path / "old.db"
    make_legacy(legacy)
    with sqlite3.connect(legacy) as conn:  # enough rows for the progress handler to run
        conn.executemany("INSERT INTO tracks (id, title, artist, permalink_url) VALUES "
                         "(?, 'T', 'A', 'https://x.example/t')",
                         [(n,) for n in range(1000, 6000)])
    assert len(read_legacy(str(legacy))) == 3
    with pytest.raises(LegacyError, match="took longer than 0 s"):
        read_legacy(str(legacy), seconds=0)
