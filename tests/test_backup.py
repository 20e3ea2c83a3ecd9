"""`ntrbot backup FILE`: a copy of the live database of a running ntrbot, made while it writes."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.constants import ADMIN_TOKEN, BEARER
from tests.support.fake_soundcloud import FakeSoundCloud
from tests.support.net import wait_until
from tests.support.process import REPO, NtrbotProcess

pytestmark = pytest.mark.e2e
ANNOUNCES = 20  # at least; more while the copies are made
SUMMARY = re.compile(r"^backed up (\S+) to (\S+): ([\d.]+ (?:bytes|KiB|MiB)); (\d+) shows, "
                     r"(\d+) tracks, (\d+) announcements$")


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTR_")}
    env.update({"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_DB_PATH": str(db),
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH"))
                                              if p), **extra})
    return env


async def ntrbot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ntrbot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("shows", "tracks", "announcements"))
    finally:
        conn.close()


def check_copy(path: Path, stdout: str) -> tuple[int, int, int]:
    """The copy is a sound database whose counts are the ones printed."""
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    assert m.group(2) == str(path)
    got = counts(path)
    assert got == tuple(int(m.group(i)) for i in (4, 5, 6))
    assert not list(path.parent.glob(f".{path.name}.partial-*"))  # no leftovers
    # a self-contained file: no -wal beside it holding part of the data
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    return got


async def test_backup_of_a_running_instance_while_it_announces(
        live_fake: FakeSoundCloud, tmp_path: Path) -> None:
    bot = NtrbotProcess(tmp_path, {
        "NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": live_fake.api_base,
        "NTR_SOUNDCLOUD_WEB_BASE": live_fake.web_base, "NTR_SHOW_TIMEZONE": "UTC",
        "NTR_SHOW_DAY": str((datetime.now(UTC) - timedelta(days=3)).weekday()),
        "NTR_SHOW_HOUR": "0"})
    await bot.start()
    db = tmp_path / "ntrbot.db"
    env = env_for(db)
    try:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            async def playlist() -> dict | None:  # type: ignore[type-arg]
                body = (await http.get("/playlist")).json()
                return body if len(body.get("tracks", [])) >= 3 else None

            show = await wait_until(playlist, what="the first poll")
            n = len(show["tracks"])

            stop = asyncio.Event()
            made = 0

            async def announce_until_stopped() -> None:
                nonlocal made
                while not stop.is_set() or made < ANNOUNCES:
                    r = await http.post("/admin/announce", headers=BEARER, json={
                        "show_id": show["id"], "position": made % n + 1, "force": True})
                    assert r.status_code == 200, r.text
                    made += 1

            announcing = asyncio.create_task(announce_until_stopped())
            copies: list[tuple[int, int, int]] = []
            # copies while announces go on, until some caught the history half-way
            while len(copies) < 3 or not any(c[2] for c in copies):
                assert len(copies) < 50 and not announcing.done()
                copy = tmp_path / f"during-{len(copies)}.db"
                code, out, err = await ntrbot("backup", str(copy), env=env, cwd=tmp_path)
                assert code == 0, err
                copies.append(check_copy(copy, out))
            stop.set()
            await announcing
            # every copy made meanwhile is whole and consistent, and they only grow
            assert [c[2] for c in copies] == sorted(c[2] for c in copies)
            assert all(c[:2] == copies[0][:2] for c in copies)
            assert all(c[2] <= made for c in copies)

            final = tmp_path / "final.db"
            code, out, err = await ntrbot("backup", str(final), env=env, cwd=tmp_path)
            assert code == 0, err
            got = check_copy(final, out)
            assert got == counts(db)  # the live database, still open in ntrbot
            assert got[2] == made and got[0] >= 1 and got[1] >= n
            announcements = (await http.get(f"/shows/{show['id']}/announcements")).json()
            assert len(announcements["announcements"]) == made

            # no overwrite without --force: exit 1, one line, the file untouched
            before = final.read_bytes()
            code, out, err = await ntrbot("backup", str(final), env=env, cwd=tmp_path)
            assert code == 1 and out == ""
            assert err.strip() == f"ntrbot: {final} exists; add --force to overwrite it"
            assert final.read_bytes() == before
            code, out, err = await ntrbot("backup", str(final), "--force", env=env,
                                          cwd=tmp_path)
            assert code == 0, err
            assert check_copy(final, out) == got
    finally:
        assert await bot.stop() == 0


@pytest.mark.parametrize("case", ["no-database", "no-directory", "onto-itself"])
async def test_backup_failures_are_one_line(tmp_path: Path, case: str) -> None:
    db = tmp_path / "ntrbot.db"
    if case != "no-database":
        sqlite3.connect(db).execute("CREATE TABLE shows (x)").connection.close()
    dest = {"no-database": tmp_path / "copy.db", "no-directory": tmp_path / "nope" / "c.db",
            "onto-itself": db}[case]
    args = ["backup", str(dest)] + (["--force"] if case == "onto-itself" else [])
    code, out, err = await ntrbot(*args, env=env_for(db), cwd=tmp_path)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ntrbot: ") and "Traceback" not in err
    assert {"no-database": "no database at", "no-directory": "no directory",
            "onto-itself": "is the database itself"}[case] in lines[0]


async def test_database_and_backup_files_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    """The database holds the announce history and its hosts' names; with the usual umask
    022 (or 0) its file, -wal, -shm and every backup were world-readable."""
    from ntrbot.store.db import Database

    db, copy = tmp_path / "ntrbot.db", tmp_path / "copy.db"
    old = os.umask(0)
    try:
        database = await Database.open(str(db), ZoneInfo("UTC"))
        try:
            await database.set_meta("test", "x")  # a write: the -wal and -shm exist now
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                assert path.exists() and path.stat().st_mode & 0o777 == 0o600, path
        finally:
            await database.close()
        code, _, err = await ntrbot("backup", str(copy), env=env_for(db), cwd=tmp_path)
        assert code == 0, err
        assert copy.stat().st_mode & 0o777 == 0o600
        copy.chmod(0o644)
        code, _, err = await ntrbot("backup", str(copy), "--force", env=env_for(db),
                                    cwd=tmp_path)
        assert code == 0, err
        assert copy.stat().st_mode & 0o777 == 0o600  # a replaced copy too
    finally:
        os.umask(old)
