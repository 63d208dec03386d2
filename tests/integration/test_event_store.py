"""The event store on a real PostgreSQL: expected versions and gap-safe reading."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import pytest

from shared.eventstore import ConcurrencyError, EventStore, NewEvent
from tests.sample_events import ping

pytestmark = pytest.mark.integration


async def test_same_expected_version_only_one_append_wins(pool: asyncpg.Pool) -> None:
    store = EventStore("test")
    stream = uuid.uuid4()
    await _append(pool, store, str(stream), 0, [ping(stream)])

    async def contender(i: int) -> str:
        try:
            await _append(pool, store, str(stream), 1, [ping(stream, i)])
            return "won"
        except ConcurrencyError:
            return "conflict"

    outcomes = await asyncio.gather(*(contender(i) for i in range(20)))
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == 19
    events = await store.load(pool, str(stream))
    assert [e.stream_version for e in events] == [1, 2]


async def test_append_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    store = EventStore("test")
    stream = uuid.uuid4()
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await store.append(conn, str(stream), 0, [ping(stream)])


async def test_tailing_reader_never_skips_an_event_that_commits_late(pool: asyncpg.Pool) -> None:
    """Writers hold their transactions open for random times; a tailer reads by position."""
    store = EventStore("test")
    writers, per_writer = 20, 15
    done = asyncio.Event()
    seen: list[uuid.UUID] = []

    async def writer(w: int) -> None:
        stream = uuid.uuid4()
        for version in range(per_writer):
            async with pool.acquire() as conn, conn.transaction():
                await store.append(conn, str(stream), version, [ping(stream, version)])
                await asyncio.sleep(random.random() / 100)  # commit late

    async def tailer() -> None:
        position = 0
        while True:
            finished = done.is_set()
            batch = await store.read_all(pool, after=position, limit=50)
            seen.extend(e.event_id for e in batch)
            if batch:
                position = batch[-1].position
            elif finished:
                return
            else:
                await asyncio.sleep(0.001)

    tail = asyncio.create_task(tailer())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await tail
    stored = [e.event_id for e in await store.read_all(pool, limit=10_000)]
    assert len(stored) == writers * per_writer
    assert seen == stored  # same events, same order, none skipped


async def _append(
    pool: asyncpg.Pool, store: EventStore, stream: str, version: int, events: list[NewEvent]
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.append(conn, stream, version, events)
