"""The event store on a real PostgreSQL: expected versions and gap-safe reading."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import pytest

from shared.application import in_transaction
from shared.db import Conn, create_pool
from shared.eventstore import (
    ConcurrencyError,
    EventStore,
    NewEvent,
    RecordedEvent,
    appending_conflicts,
)
from shared.migrations import KIT_MIGRATIONS, migrate, migration_files
from tests.integration.kit import eventually
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


async def test_an_expected_version_beyond_the_stream_is_a_conflict_not_a_gap(
    pool: asyncpg.Pool,
) -> None:
    store = EventStore("test")
    stream = uuid.uuid4()
    await _append(pool, store, str(stream), 0, [ping(stream)])
    with pytest.raises(ConcurrencyError):
        await _append(pool, store, str(stream), 3, [ping(stream, 1)])
    with pytest.raises(ConcurrencyError):
        await _append(pool, store, str(stream), 0, [ping(stream, 2)])
    assert [e.stream_version for e in await store.load(pool, str(stream))] == [1]


async def test_a_stream_is_started_once_without_a_load(pool: asyncpg.Pool) -> None:
    store = EventStore("test")
    stream = uuid.uuid4()

    async def starter(i: int) -> str:
        async with pool.acquire() as conn, conn.transaction():
            try:
                started = await store.start(conn, str(stream), [ping(stream, i), ping(stream, i)])
            except ConcurrencyError:
                return "conflict"
            if started is None:  # it exists: the transaction goes on
                assert await conn.fetchval("SELECT 1") == 1
                return "exists"
            assert [e.stream_version for e in started] == [1, 2]
            return "started"

    outcomes = await asyncio.gather(*(starter(i) for i in range(10)))
    assert outcomes.count("started") == 1
    assert outcomes.count("conflict") + outcomes.count("exists") == 9
    assert [e.stream_version for e in await store.load(pool, str(stream))] == [1, 2]
    assert await starter(99) == "exists"


async def test_append_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    store = EventStore("test")
    stream = uuid.uuid4()
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await store.append(conn, str(stream), 0, [ping(stream)])


async def test_recorded_events_are_what_a_load_returns(pool: asyncpg.Pool) -> None:
    store = EventStore("test")
    stream = uuid.uuid4()
    events = [ping(stream, 1), ping(stream, 2)]
    async with pool.acquire() as conn, conn.transaction():
        recorded = await store.append(conn, str(stream), 0, events)
    assert recorded == await store.load(pool, str(stream))
    assert [e.stream_version for e in recorded] == [1, 2]
    assert recorded[0].data == {"shipment_id": str(stream), "n": 1}  # decoded by the codec


async def test_another_insert_clashing_on_a_version_is_a_concurrency_error(
    pool: asyncpg.Pool,
) -> None:
    """What a batch writer of its own (a consumer) gets from ``appending_conflicts``."""
    stream = uuid.uuid4()
    await _append(pool, EventStore("test"), str(stream), 0, [ping(stream)])
    with pytest.raises(ConcurrencyError) as raised:
        async with pool.acquire() as conn, conn.transaction():
            with appending_conflicts():
                await conn.execute(
                    "INSERT INTO events (stream_id, stream_version, event_id, event_type, data,"
                    " metadata) VALUES ($1, 1, $2, 'aidport.test.Ping.v1', '{}', '{}')",
                    str(stream),
                    uuid.uuid4(),
                )
    assert raised.value.stream_id == str(stream)


async def test_a_stream_stays_in_version_order_when_its_writer_got_its_id_first(
    pool: asyncpg.Pool,
) -> None:
    """A transaction that wrote something else first holds an older id than one that
    appended to the stream and committed meanwhile: its append must not go before that
    event in the global order. It is refused and succeeds on the retry."""
    store = EventStore("test")
    stream = str(uuid.uuid4())
    await pool.execute("CREATE TABLE scratch (n int)")
    attempts = 0
    first_written = asyncio.Event()

    async def late_writer(conn: Conn) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute("INSERT INTO scratch VALUES (1)")  # takes its transaction id now
        if attempts == 1:
            await first_written.wait()  # the stream's first event commits meanwhile
        version = len(await store.load(conn, stream))
        await store.append(conn, stream, version, [ping(uuid.UUID(stream), version)])

    late = asyncio.create_task(in_transaction(pool, late_writer))
    await asyncio.sleep(0.2)
    await _append(pool, store, stream, 0, [ping(uuid.UUID(stream))])
    first_written.set()
    await late
    assert attempts == 2
    ordered = [e for e in await _settled(store, pool, 2) if e.stream_id == stream]
    assert [e.stream_version for e in ordered] == [1, 2]


async def test_a_reader_stops_below_the_oldest_open_transaction(pool: asyncpg.Pool) -> None:
    store = EventStore("test")
    early, late = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as held:
        transaction = held.transaction()
        await transaction.start()
        await store.append(held, str(early), 0, [ping(early)])  # open: older id
        await _append(pool, store, str(late), 0, [ping(late)])  # committed: younger id
        assert await store.read_all(pool) == []  # the late one waits for the early one
        await transaction.commit()
    read = await _settled(store, pool, 2)
    assert [e.stream_id for e in read] == [str(early), str(late)]


async def test_tailing_reader_never_skips_an_event_that_commits_late(pool: asyncpg.Pool) -> None:
    """Writers hold their transactions open for random times; a tailer reads in order."""
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
        while not (done.is_set() and len(seen) == writers * per_writer):
            batch = await store.read_all(pool, after=position, limit=50)
            seen.extend(e.event_id for e in batch)
            if batch:
                position = batch[-1].position
            else:
                await asyncio.sleep(0.001)

    tail = asyncio.create_task(tailer())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    async with asyncio.timeout(30):
        await tail
    stored = [e.event_id for e in await _settled(store, pool, writers * per_writer)]
    assert seen == stored  # same events, same order, none skipped


async def test_events_stored_before_the_migration_come_first_in_their_order(
    database: str,
) -> None:
    """Rows from before ``transaction_id`` existed keep their order and sort before new
    ones; a relay checkpoint (a position) keeps its meaning."""
    conn = await asyncpg.connect(database)
    try:
        await _migrate_up_to(conn, "0003")
        streams = [str(uuid.uuid4()) for _ in range(3)]
        for position, stream in enumerate(streams, start=1):
            await conn.execute(
                "INSERT INTO events (stream_id, stream_version, event_id, event_type, data,"
                " metadata) VALUES ($1, 1, $2, 'aidport.test.Ping.v1', $3, '{}')",
                stream,
                uuid.uuid4(),
                f'{{"shipment_id": "{stream}", "n": {position}}}',
            )
        await conn.execute("INSERT INTO relay_checkpoints VALUES ('test', 2)")
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(database, max_size=5)
    try:
        store = EventStore("test")
        new = uuid.uuid4()
        await _append(pool, store, str(new), 0, [ping(new)])
        everything = await _settled(store, pool, 4)
        assert [e.stream_id for e in everything] == [*streams, str(new)]
        checkpoint = await pool.fetchval("SELECT position FROM relay_checkpoints")
        unpublished = await store.read_all(pool, after=checkpoint)
        assert [e.stream_id for e in unpublished] == [streams[2], str(new)]
        await _append(pool, store, streams[0], 1, [ping(uuid.UUID(streams[0]), 2)])
        assert len(await _settled(store, pool, 5)) == 5
    finally:
        await pool.close()


async def _settled(store: EventStore, pool: asyncpg.Pool, count: int) -> list[RecordedEvent]:
    """The whole store once ``count`` events are readable: a reader stops below any
    transaction still open in the cluster, however unrelated (autovacuum, for one)."""
    read: list[RecordedEvent] = []

    async def enough() -> bool:
        nonlocal read
        read = await store.read_all(pool, limit=100_000)
        return len(read) >= count

    await eventually(enough, timeout=30)
    return read


async def _migrate_up_to(conn: asyncpg.Connection, last: str) -> None:
    await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY)")
    for name, file in migration_files(KIT_MIGRATIONS):
        if file.name[:4] > last:
            break
        await conn.execute(file.read_text(encoding="utf-8"))
        await conn.execute("INSERT INTO schema_migrations VALUES ($1)", name)


async def _append(
    pool: asyncpg.Pool, store: EventStore, stream: str, version: int, events: list[NewEvent]
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.append(conn, stream, version, events)
