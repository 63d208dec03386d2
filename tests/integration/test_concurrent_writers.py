"""Fifty concurrent writers against the store without a table lock: neither the relay (on
the real broker) nor a catch-up reader skips, repeats or reorders an event.

Writers share streams (so appends clash and retry), some transactions take their id early
and hold it open (so younger ones commit first), some commit late and some roll back.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import asyncpg
import pytest

from shared.application import in_transaction
from shared.db import Conn, create_pool
from shared.eventstore import EventStore, RecordedEvent
from shared.migrations import migrate
from tests.conftest import KafkaBroker
from tests.integration.kit import eventually, make_relay, running
from tests.kafka_helpers import read_topic
from tests.sample_events import ping

pytestmark = pytest.mark.integration

WRITERS, TRANSACTIONS, STREAMS = 50, 16, 25


class Abort(Exception):
    """Rolls a writer's transaction back on purpose."""


@pytest.fixture
async def big_pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, max_size=WRITERS + 5)
    async with pool.acquire() as conn:
        await migrate(conn)
        await conn.execute("CREATE TABLE scratch (n int)")
    yield pool
    await pool.close()


async def test_fifty_writers_no_reader_skips_or_repeats_an_event(
    big_pool: asyncpg.Pool, database: str, kafka: KafkaBroker, topic: str
) -> None:
    pool, store = big_pool, EventStore("test")
    streams = [uuid.uuid4() for _ in range(STREAMS)]
    committed: set[uuid.UUID] = set()
    rolled_back: set[uuid.UUID] = set()
    writing = asyncio.Event()
    caught: list[RecordedEvent] = []

    async def writer(w: int) -> None:
        rng = random.Random(w)
        for _ in range(TRANSACTIONS):
            written: list[uuid.UUID] = []
            try:
                await in_transaction(pool, _one_transaction(rng, streams, written), attempts=200)
                committed.update(written)
            except Abort:
                rolled_back.update(written)

    async def catch_up_reader() -> None:
        rng, position = random.Random(-1), 0
        while writing.is_set() or len(caught) < len(committed):
            batch = await store.read_all(pool, after=position, limit=rng.randint(1, 40))
            caught.extend(batch)
            if batch:
                position = batch[-1].position
            else:
                await asyncio.sleep(0.005)

    async def relay_at_head() -> bool:
        checkpoint = await pool.fetchval("SELECT position FROM relay_checkpoints")
        return bool(checkpoint == await store.head(pool))

    writing.set()
    async with running(make_relay(database, topic, kafka.bootstrap_servers).run()):
        reader = asyncio.create_task(catch_up_reader())
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        writing.clear()
        async with asyncio.timeout(60):
            await reader
        await eventually(relay_at_head)

    stored = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM events")}
    assert stored == committed and not stored & rolled_back
    assert len(rolled_back) > 0 and len(committed) > WRITERS * TRANSACTIONS / 2

    ids = [e.event_id for e in caught]
    assert len(ids) == len(set(ids)) == len(committed)  # none twice
    assert set(ids) == committed  # none skipped
    _assert_in_version_order((e.stream_id, e.stream_version) for e in caught)

    messages = await read_topic(kafka.bootstrap_servers, topic)
    published = [uuid.UUID(dict(m.headers)["ce_id"].decode()) for m in messages]
    assert len(published) == len(set(published)) == len(committed)
    assert set(published) == committed
    _assert_in_version_order(
        (m.key.decode(), int(dict(m.headers)["ce_streamversion"])) for m in messages
    )


def _one_transaction(
    rng: random.Random, streams: list[uuid.UUID], written: list[uuid.UUID]
) -> Callable[[Conn], Awaitable[None]]:
    """Appends 1-3 events to one of the streams: one in ten takes its transaction id early
    and holds it open, one in five commits late, one in ten rolls back."""
    store, stream, size, style = (
        EventStore("test"),
        rng.choice(streams),
        rng.randint(1, 3),
        rng.random(),
    )

    async def work(conn: Conn) -> None:
        written.clear()
        if style < 0.1:
            await conn.execute("INSERT INTO scratch VALUES (1)")
            await asyncio.sleep(rng.uniform(0.05, 0.3))
        version = len(await store.load(conn, str(stream)))
        events = [ping(stream, version + i) for i in range(size)]
        await store.append(conn, str(stream), version, events)
        written.extend(e.event_id for e in events)
        if style < 0.2:
            await asyncio.sleep(rng.uniform(0.01, 0.2))
        if style > 0.9:
            raise Abort

    return work


def _assert_in_version_order(seen: Iterable[tuple[str, int]]) -> None:
    """Each stream's versions arrive as 1, 2, 3, ... with none missing."""
    versions: dict[str, list[int]] = defaultdict(list)
    for stream, version in seen:
        versions[stream].append(version)
    assert len(versions) == STREAMS
    for stream, got in versions.items():
        assert got == list(range(1, len(got) + 1)), stream
