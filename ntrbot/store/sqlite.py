"""SQLite plumbing the stores share: connections with ntrbot's PRAGMAs, plain-tuple reads,
the type of the one write path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, cast

import aiosqlite

T = TypeVar("T")
PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000")

Row = tuple[Any, ...]  # one result row
# The connections keep sqlite3's default row factory, so a row is a plain tuple;
# aiosqlite's types say sqlite3.Row, which covers any factory.


class WritePath(Protocol):
    """`Database._write`: run `fn` in one transaction on the writer connection, one write at
    a time (`shows=False`: it touches no show or track, cached shows stay valid)."""

    async def __call__(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]], *,
                       shows: bool = True, dry_run: bool = False) -> T: ...


async def fetch_all(conn: aiosqlite.Connection, sql: str,
                    params: Sequence[Any] = ()) -> list[Row]:
    async with conn.execute(sql, params) as cur:
        return list(cast(Iterable[Row], await cur.fetchall()))


async def fetch_one(conn: aiosqlite.Connection, sql: str,
                    params: Sequence[Any] = ()) -> Row | None:
    async with conn.execute(sql, params) as cur:
        return cast(Row | None, await cur.fetchone())


async def connect(path: str, *, reader: bool = False) -> aiosqlite.Connection:
    """An open connection with ntrbot's PRAGMAs; a `reader` is autocommit and query-only."""
    conn = aiosqlite.connect(path, isolation_level=None) if reader else aiosqlite.connect(path)
    try:
        await conn
    except BaseException:
        # aiosqlite stops its worker thread without waiting for it; wait here, so the
        # thread never calls back into an event loop that has closed meanwhile.
        thread = getattr(conn, "_thread", None)
        if thread is not None:
            await asyncio.to_thread(thread.join, 5)
        raise
    try:
        for pragma in PRAGMAS + (("query_only=ON",) if reader else ()):
            await conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        await conn.close()
        raise
    return conn


async def close(reader: aiosqlite.Connection | None, writer: aiosqlite.Connection) -> None:
    """Close the reader, then the writer (last, so it checkpoints the WAL), even if the
    reader fails to close."""
    try:
        if reader is not None and reader is not writer:
            await reader.close()
    finally:
        await writer.close()
