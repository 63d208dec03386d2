"""A projection rebuilt from the event store equals the incrementally built one."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar

import asyncpg
import pytest

from shared.db import Conn
from shared.eventstore import EventStore, RecordedEvent
from shared.projections import SqlProjection, _grouped_page, generations, project, rebuild
from tests.sample_events import Ping, ping

pytestmark = pytest.mark.integration


class StreamSummary:
    """Per stream: how many events and the sum of their n, as a screen would show."""

    name = "stream_summary"
    tables = ("stream_summary",)

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        await conn.execute(
            "INSERT INTO stream_summary (stream_id, events, total, last_position)"
            " VALUES ($1, 1, $2, $3) ON CONFLICT (stream_id) DO UPDATE SET"
            " events = stream_summary.events + 1, total = stream_summary.total + $2,"
            " last_position = $3",
            event.stream_id,
            event.data["n"],
            event.position,
        )


async def test_rebuilt_projection_equals_incremental(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "CREATE TABLE stream_summary (stream_id text PRIMARY KEY, events int, total bigint,"
        " last_position bigint)"
    )
    store, projection = EventStore("test"), StreamSummary()

    async def writer() -> None:
        stream = uuid.uuid4()
        for version in range(12):
            async with pool.acquire() as conn, conn.transaction():
                recorded = await store.append(conn, str(stream), version, [ping(stream, version)])
                await project(conn, [projection], recorded)

    await asyncio.gather(*(writer() for _ in range(15)))
    incremental = await pool.fetch("SELECT * FROM stream_summary ORDER BY stream_id")

    replayed = await rebuild(pool, store, [projection])
    rebuilt = await pool.fetch("SELECT * FROM stream_summary ORDER BY stream_id")

    assert replayed == 180
    assert len(incremental) == 15
    assert [dict(r) for r in rebuilt] == [dict(r) for r in incremental]


class StreamLast(SqlProjection):
    """A set-based projection with a secondary index: the rebuild keeps its name."""

    name = "stream_last"
    tables = ("stream_last",)
    key_field = "shipment_id"
    statements: ClassVar[dict[str, str]] = {
        Ping.event_type: "INSERT INTO stream_last (stream_id, n, last_position)"
        " SELECT stream_id, (data->>'n')::int, position FROM events"
        " WHERE position = ANY($1::bigint[])"
        " ON CONFLICT (stream_id) DO UPDATE SET n = excluded.n,"
        " last_position = excluded.last_position",
    }


async def test_a_rebuild_swaps_in_fresh_tables_with_the_same_indexes(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "CREATE TABLE stream_last (stream_id text PRIMARY KEY, n int NOT NULL,"
        " last_position bigint NOT NULL);"
        "CREATE INDEX stream_last_by_n ON stream_last (n, stream_id)"
    )
    store, projection = EventStore("test"), StreamLast()
    streams = [uuid.uuid4() for _ in range(30)]
    async with pool.acquire() as conn, conn.transaction():
        for stream in streams:
            recorded = await store.append(conn, str(stream), 0, [ping(stream, i) for i in range(4)])
            await project(conn, [projection], recorded)
    incremental = await pool.fetch("SELECT * FROM stream_last ORDER BY stream_id")
    old_oid = await pool.fetchval("SELECT 'stream_last'::regclass::oid")

    replayed = await rebuild(pool, store, [projection], page=7)  # pages split streams

    rebuilt = await pool.fetch("SELECT * FROM stream_last ORDER BY stream_id")
    assert replayed == 120
    assert [dict(r) for r in rebuilt] == [dict(r) for r in incremental]
    assert {r["n"] for r in rebuilt} == {3}
    assert await pool.fetchval("SELECT 'stream_last'::regclass::oid") != old_oid  # fresh table
    indexes = await pool.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'stream_last'")
    assert {r["indexname"] for r in indexes} == {"stream_last_pkey", "stream_last_by_n"}
    assert not await pool.fetchval(
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'aidport_rebuild'"
    )


async def _stream_last_with_pings(pool: asyncpg.Pool, streams: int) -> EventStore:
    await pool.execute(
        "CREATE TABLE stream_last (stream_id text PRIMARY KEY, n int NOT NULL,"
        " last_position bigint NOT NULL)"
    )
    store = EventStore("test")
    async with pool.acquire() as conn, conn.transaction():
        for stream in (uuid.uuid4() for _ in range(streams)):
            recorded = await store.append(conn, str(stream), 0, [ping(stream, i) for i in range(3)])
            await project(conn, [StreamLast()], recorded)
    return store


@pytest.mark.parametrize("workers", [1, 2, 3])
async def test_a_rebuild_in_parts_equals_the_incremental_build(
    pool: asyncpg.Pool, workers: int
) -> None:
    store = await _stream_last_with_pings(pool, 40)
    incremental = await pool.fetch("SELECT * FROM stream_last ORDER BY stream_id")

    replayed = await rebuild(pool, store, [StreamLast()], page=11, workers=workers)

    assert replayed == 120
    rebuilt = await pool.fetch("SELECT * FROM stream_last ORDER BY stream_id")
    assert [dict(r) for r in rebuilt] == [dict(r) for r in incremental]


class FailingStreamLast(StreamLast):
    """Fails on its last page: the rebuild must leave the live table as it was."""

    async def after_batch(self, conn: Conn, positions: Sequence[int]) -> None:
        if max(positions) > 100:
            raise RuntimeError("a projection bug")


async def test_a_failed_rebuild_in_parts_leaves_the_live_tables_and_no_fresh_ones(
    pool: asyncpg.Pool,
) -> None:
    store = await _stream_last_with_pings(pool, 40)
    before = await pool.fetch("SELECT * FROM stream_last ORDER BY stream_id")
    oid = await pool.fetchval("SELECT 'stream_last'::regclass::oid")

    with pytest.raises(RuntimeError, match="a projection bug"):
        await rebuild(pool, store, [FailingStreamLast()], page=11, workers=2)

    assert await pool.fetchval("SELECT 'stream_last'::regclass::oid") == oid
    assert [dict(r) for r in await pool.fetch("SELECT * FROM stream_last ORDER BY stream_id")] == [
        dict(r) for r in before
    ]
    assert not await pool.fetchval(
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'aidport_rebuild'"
    )


async def test_a_page_grouped_in_sql_splits_generations_as_python_does(pool: asyncpg.Pool) -> None:
    """The rebuild's pages are grouped in SQL; for every key field the groups must be the
    ones ``SqlProjection.apply_batch`` makes with ``generations``: same order, same events."""
    draw = random.Random(20261202)
    for _ in range(40):
        await pool.execute("TRUNCATE events")
        events = [
            (
                draw.choice(["A", "B", "C"]),
                {"a": draw.choice(["a0", "a1", "a2", None]), "b": draw.choice(["b0", "b1"])},
            )
            for _ in range(draw.randint(1, 30))
        ]
        for version, (event_type, data) in enumerate(events, start=1):
            await pool.execute(
                "INSERT INTO events (stream_id, stream_version, event_id, event_type, data,"
                " metadata) VALUES ('s', $1, $2, $3, $4::jsonb, '{}')",
                version,
                uuid.uuid4(),
                event_type,
                {k: v for k, v in data.items() if v is not None},
            )
        rows = await pool.fetch("SELECT position, event_type, data FROM events ORDER BY position")
        limit = draw.randint(1, 35)
        async with pool.acquire() as conn:
            grouped = await _grouped_page(conn, ["a", "b"], 0, limit, None)

        page = rows[:limit]
        for key in ("a", "b"):
            expected: list[tuple[str, list[int]]] = []
            for generation in generations(page, lambda r, k=key: r["data"].get(k)):
                by_type: dict[str, list[int]] = defaultdict(list)
                for row in generation:
                    by_type[row["event_type"]].append(row["position"])
                expected.extend(by_type.items())
            assert grouped[key] == expected, (key, events, limit)
