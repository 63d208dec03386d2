"""A projection rebuilt from the event store equals the incrementally built one."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.db import Conn
from shared.eventstore import EventStore, RecordedEvent
from shared.projections import project, rebuild
from tests.sample_events import ping

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
