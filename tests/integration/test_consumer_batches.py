"""Set-based consumers: a batch unit of work equals one command at a time, clashes retry,
one failing command parks only its subject, and processed ids are pruned behind a window."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from shared.application import CommandHandler
from shared.consumer import Reaction
from shared.consumer.offsets import prune_processed
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.base import DomainEvent
from shared.db import Conn
from shared.decider import Decider, DomainError
from shared.envelope import Envelope, to_kafka
from shared.eventstore import ConcurrencyError, EventStore, NewEvent, RecordedEvent
from shared.projections import SqlProjection
from tests.conftest import KafkaBroker
from tests.integration.kit import make_consumer
from tests.kafka_helpers import read_topic
from tests.sample_events import Note, Ping, test_types

pytestmark = pytest.mark.integration

TOTALS = """CREATE TABLE IF NOT EXISTS ping_totals (
    stream_id text PRIMARY KEY, events int NOT NULL, total bigint NOT NULL,
    last_n int NOT NULL, last_position bigint NOT NULL)"""


class PingTotals(SqlProjection):
    name = "ping_totals"
    tables = ("ping_totals",)
    key_field = "shipment_id"
    statements: ClassVar[dict[str, str]] = {
        Ping.event_type: """
            INSERT INTO ping_totals (stream_id, events, total, last_n, last_position)
            SELECT stream_id, 1, (data->>'n')::int, (data->>'n')::int, position
            FROM events WHERE position = ANY($1::bigint[])
            ON CONFLICT (stream_id) DO UPDATE SET events = ping_totals.events + 1,
                total = ping_totals.total + excluded.total, last_n = excluded.last_n,
                last_position = excluded.last_position""",
    }


Command = tuple[uuid.UUID, int]


def _decide(command: Command, state: int) -> Sequence[DomainEvent]:
    """Ping n = the command's n plus the pings so far; a negative n breaks the rule."""
    stream, n = command
    if n < 0:
        raise DomainError("negative")
    return [Ping(shipment_id=stream, n=n + state)]


PINGS: Decider[int, Command] = Decider(0, lambda state, _: state + 1, _decide)


def _unit_of_work() -> BatchUnitOfWork[int, Command]:
    handler = CommandHandler(EventStore("test"), PINGS, (PingTotals(),))
    return BatchUnitOfWork(handler, types=test_types)


async def _seed(pool: asyncpg.Pool, stream: uuid.UUID, pings: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await EventStore("test").append(
            conn, str(stream), 0, [NewEvent(Ping(shipment_id=stream, n=i)) for i in range(pings)]
        )


async def _stream_rows(pool: asyncpg.Pool, stream: uuid.UUID) -> list[tuple[int, Any]]:
    rows = await pool.fetch(
        "SELECT stream_version, data->'n' AS n FROM events WHERE stream_id = $1"
        " ORDER BY stream_version",
        str(stream),
    )
    return [(r["stream_version"], r["n"]) for r in rows]


async def test_a_batch_equals_its_commands_one_at_a_time(pool: asyncpg.Pool) -> None:
    await pool.execute(TOTALS)
    batch_streams = [uuid.uuid4() for _ in range(4)]
    single_streams = [uuid.uuid4() for _ in range(4)]
    for b, s in zip(batch_streams, single_streams, strict=True):  # two exist already
        if b.int % 2:
            await _seed(pool, b, 2)
            await _seed(pool, s, 2)
    # Several commands per stream, interleaved: each must see the state the earlier left.
    plan = [(i % 4, 10 * i) for i in range(10)]

    async with pool.acquire() as conn, conn.transaction():
        await _unit_of_work().run(conn, [_command(batch_streams[k], n) for k, n in plan])
    for k, n in plan:  # the same commands, one transaction each
        async with pool.acquire() as conn, conn.transaction():
            await _unit_of_work().run(conn, [_command(single_streams[k], n)])

    totals = {
        r["stream_id"]: (r["events"], r["total"], r["last_n"])
        for r in await pool.fetch("SELECT * FROM ping_totals")
    }
    for b, s in zip(batch_streams, single_streams, strict=True):
        assert await _stream_rows(pool, b) == [(v, n) for v, n in await _stream_rows(pool, s)]
    for b, s in zip(batch_streams, single_streams, strict=True):
        assert totals[str(b)] == totals[str(s)]


def _command(stream: uuid.UUID, n: int) -> StreamCommand[Command]:
    return StreamCommand(str(stream), (stream, n), {})


async def test_a_clash_with_a_concurrent_writer_is_a_concurrency_error(
    pool: asyncpg.Pool,
) -> None:
    await pool.execute(TOTALS)
    stream = uuid.uuid4()
    await _seed(pool, stream, 1)

    class Raced(BatchUnitOfWork[int, Command]):
        async def _load(self, conn: Conn, stream_ids: list[str]) -> Any:
            loaded = await super()._load(conn, stream_ids)
            await _append_one(pool, stream, version=1)  # commits between load and append
            return loaded

    async with pool.acquire() as conn:
        with pytest.raises(ConcurrencyError):
            async with conn.transaction():
                handler = CommandHandler(EventStore("test"), PINGS, (PingTotals(),))
                await Raced(handler, types=test_types).run(conn, [_command(stream, 5)])
    assert [v for v, _ in await _stream_rows(pool, stream)] == [1, 2]


async def _append_one(pool: asyncpg.Pool, stream: uuid.UUID, version: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await EventStore("test").append(
            conn, str(stream), version, [NewEvent(Ping(shipment_id=stream, n=99))]
        )


async def test_one_failing_command_parks_its_subject_and_the_batch_goes_on(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await pool.execute(TOTALS)
    subjects = [uuid.uuid4() for _ in range(5)]
    poisoned = subjects[2]
    # Events consumed from the topic: n=-1 for the poisoned subject's second event.
    sent = [(s, -1 if (s == poisoned and i == 1) else i) for i in range(3) for s in subjects]
    await _publish(kafka.bootstrap_servers, topic, sent)
    calls: dict[str, int] = defaultdict(int)
    uow = _unit_of_work()

    def command(envelope: Envelope) -> StreamCommand[Command]:
        target = uuid.uuid5(uuid.NAMESPACE_URL, envelope.subject)
        return _command(target, envelope.data["n"])

    async def one(conn: Conn, envelope: Envelope) -> None:
        calls["one"] += 1
        await uow.run(conn, [command(envelope)])

    async def many(conn: Conn, envelopes: Sequence[Envelope]) -> None:
        calls["many"] += 1
        await uow.run(conn, [command(e) for e in envelopes])

    runner = make_consumer(
        pool, topic, kafka.bootstrap_servers, handler=Reaction(one, many), group="g-batches"
    )
    messages = await read_topic(kafka.bootstrap_servers, topic)
    batch: dict[TopicPartition, list[Any]] = defaultdict(list)
    for m in messages:
        batch[TopicPartition(m.topic, m.partition)].append(m)
    await runner.handle_batch([runner.decode(m) for m in messages], batch)

    assert calls["many"] == 1  # tried set-based first, then one at a time
    parked = await runner.parked()
    assert [p.subject for p in parked] == [str(poisoned)] * 2
    events = await pool.fetch("SELECT stream_id, count(*) AS n FROM events GROUP BY stream_id")
    counts = {r["stream_id"]: r["n"] for r in events}
    target = {s: str(uuid.uuid5(uuid.NAMESPACE_URL, str(s))) for s in subjects}
    assert counts.get(target[poisoned]) == 1
    assert all(counts.get(target[s]) == 3 for s in subjects if s != poisoned)
    handled = await pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer_group = 'g-batches'"
    )
    assert handled == 13


async def test_a_clean_batch_takes_the_set_based_path_once(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await pool.execute(TOTALS)
    subjects = [uuid.uuid4() for _ in range(6)]
    await _publish(kafka.bootstrap_servers, topic, [(s, i) for i in range(2) for s in subjects])
    calls: dict[str, int] = defaultdict(int)
    uow = _unit_of_work()

    async def one(conn: Conn, envelope: Envelope) -> None:
        calls["one"] += 1

    async def many(conn: Conn, envelopes: Sequence[Envelope]) -> None:
        calls["many"] += 1
        await uow.run(conn, [_command(uuid.UUID(e.subject), e.data["n"]) for e in envelopes])

    runner = make_consumer(pool, topic, kafka.bootstrap_servers, handler=Reaction(one, many))
    messages = await read_topic(kafka.bootstrap_servers, topic)
    batch: dict[TopicPartition, list[Any]] = defaultdict(list)
    for m in messages:
        batch[TopicPartition(m.topic, m.partition)].append(m)
    await runner.process_batch(batch)
    await runner.process_batch(batch)  # delivered again: all duplicates

    assert calls == {"many": 1}
    totals = await pool.fetch("SELECT stream_id, events, total FROM ping_totals")
    assert {r["stream_id"]: (r["events"], r["total"]) for r in totals} == {
        str(s): (2, 0 + 1 + 1)
        for s in subjects  # n = the command's n + pings so far
    }


async def _publish(bootstrap: str, topic: str, sent: list[tuple[uuid.UUID, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for position, (subject, n) in enumerate(sent, start=1):
            event = RecordedEvent(
                position=position,
                stream_id=str(subject),
                stream_version=1,
                event_id=uuid.uuid4(),
                event_type=Ping.event_type,
                data=Ping(shipment_id=subject, n=n).to_data(),
                metadata={"correlation_id": "c"},
                recorded_at=datetime.now(UTC),
            )
            record = to_kafka(event, "aidport/test")
            await producer.send_and_wait(
                topic, record.value, record.key, headers=record.headers, partition=0
            )
    finally:
        await producer.stop()


async def test_processed_ids_are_pruned_after_the_retention_window(pool: asyncpg.Pool) -> None:
    old, young = uuid.uuid4(), uuid.uuid4()
    await pool.executemany(
        "INSERT INTO processed_events (consumer_group, event_id, processed_at)"
        " VALUES ($1, $2, now() - $3::interval)",
        [
            ("g-prune", old, timedelta(days=8)),
            ("g-prune", young, timedelta(days=6)),
            ("g-other", uuid.uuid4(), timedelta(days=30)),
        ],
    )

    assert await prune_processed(pool, "g-prune", timedelta(days=7)) == 1

    rows = await pool.fetch("SELECT consumer_group, event_id FROM processed_events")
    assert {(r["consumer_group"], r["event_id"]) for r in rows} >= {("g-prune", young)}
    assert ("g-prune", old) not in {(r["consumer_group"], r["event_id"]) for r in rows}
    assert "g-other" in {r["consumer_group"] for r in rows}


async def test_events_the_reaction_does_not_act_on_are_passed_over_undecoded(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    """Pings are handled; Notes (even one that fails its schema) move the offset on and
    leave no trace; a type nobody knows is still a dead letter."""
    subject = uuid.uuid4()
    await _publish(kafka.bootstrap_servers, topic, [(subject, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for event_type, value in (
            (Note.event_type, b'{"shipment_id": "%s", "text": "a note"}' % str(subject).encode()),
            (Note.event_type, b'{"text": 42}'),  # fails Note's schema: never read
            ("aidport.test.Nobody.v1", b"{}"),
        ):
            headers = [(k, v.encode()) for k, v in _attributes(subject, event_type).items()]
            await producer.send_and_wait(
                topic, value, str(subject).encode(), headers=headers, partition=0
            )
    finally:
        await producer.stop()
    seen: list[str] = []

    async def one(conn: Conn, envelope: Envelope) -> None:
        seen.append(envelope.type)

    runner = make_consumer(
        pool, topic, kafka.bootstrap_servers, handler=Reaction(one, acts_on=(Ping,)), group="g-acts"
    )
    messages = await read_topic(kafka.bootstrap_servers, topic)
    batch: dict[TopicPartition, list[Any]] = defaultdict(list)
    for m in messages:
        batch[TopicPartition(m.topic, m.partition)].append(m)
    await runner.process_batch(batch)

    assert seen == [Ping.event_type]
    assert (
        await pool.fetchval("SELECT count(*) FROM processed_events WHERE consumer_group = 'g-acts'")
        == 1
    )
    letters = await runner.dead_letters()
    assert [d.reason for d in letters] == ["unknown ce_type 'aidport.test.Nobody.v1'"]
    stored = await pool.fetchval(
        "SELECT next_offset FROM consumer_offsets WHERE consumer_group = 'g-acts'"
    )
    assert stored == len(messages) == 4


def _attributes(subject: uuid.UUID, event_type: str) -> dict[str, str]:
    return {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": event_type,
        "ce_source": "aidport/test",
        "ce_subject": str(subject),
        "ce_time": datetime.now(UTC).isoformat(),
    }
