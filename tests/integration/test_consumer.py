"""The consumer runner against the real broker and database: effects exactly once."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from shared.db import Conn
from shared.envelope import Envelope, to_kafka
from shared.eventstore import EventStore
from tests.conftest import KafkaBroker
from tests.integration.kit import (
    count_effect,
    counting_handler_table,
    eventually,
    make_consumer,
    running,
    write_streams,
)
from tests.kafka_helpers import read_topic
from tests.sample_events import ping

pytestmark = pytest.mark.integration


async def _publish_store(pool: asyncpg.Pool, bootstrap: str, topic: str, after: int = 0) -> int:
    """Publish the store (after a position) once, as the relay would (the relay has its own
    tests)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        events = await EventStore("test").read_all(pool, after=after, limit=100_000)
        for event in events:
            record = to_kafka(event, "aidport/test")
            await producer.send_and_wait(topic, record.value, record.key, headers=record.headers)
        return len(events)
    finally:
        await producer.stop()


async def _effects(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT event_id, applied FROM effects")
    return {str(r["event_id"]): r["applied"] for r in rows}


async def _has_effects(pool: asyncpg.Pool, count: int) -> bool:
    return len(await _effects(pool)) == count


async def test_the_same_batch_delivered_twice_is_applied_once(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await counting_handler_table(pool)
    await write_streams(pool, writers=4, events_per_writer=10)
    await _publish_store(pool, kafka.bootstrap_servers, topic)
    messages = await read_topic(kafka.bootstrap_servers, topic)
    batch: dict[TopicPartition, list[Any]] = defaultdict(list)
    for m in messages:
        batch[TopicPartition(m.topic, m.partition)].append(m)

    runner = make_consumer(pool, topic, kafka.bootstrap_servers)
    await runner.process_batch(batch)
    await runner.process_batch(batch)

    effects = await _effects(pool)
    assert len(effects) == 40
    assert set(effects.values()) == {1}


async def test_restart_before_the_kafka_commit_applies_nothing_twice(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await counting_handler_table(pool)
    await write_streams(pool, writers=5, events_per_writer=10)
    await _publish_store(pool, kafka.bootstrap_servers, topic)
    group = f"g-{uuid.uuid4().hex[:6]}"

    first = make_consumer(pool, topic, kafka.bootstrap_servers, group=group, commit_to_kafka=False)
    async with running(first.run()):
        await eventually(lambda: _has_effects(pool, 50))

    # Lose the stored offsets too: everything is delivered again; event ids deduplicate.
    await pool.execute("DELETE FROM consumer_offsets")
    await write_streams(pool, writers=2, events_per_writer=5)
    await _publish_store(pool, kafka.bootstrap_servers, topic)  # also re-publishes the first 50
    second = make_consumer(pool, topic, kafka.bootstrap_servers, group=group, commit_to_kafka=False)
    async with running(second.run()):
        await eventually(lambda: _has_effects(pool, 60))
        await eventually(lambda: _consumed_to_end(pool, kafka, topic, group))

    effects = await _effects(pool)
    assert len(effects) == 60
    assert set(effects.values()) == {1}


async def _consumed_to_end(pool: asyncpg.Pool, kafka: KafkaBroker, topic: str, group: str) -> bool:
    stored = await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = $1",
        group,
    )
    return bool(stored == len(await read_topic(kafka.bootstrap_servers, topic)))


async def test_an_undecodable_message_goes_to_the_dlq_and_the_consumer_goes_on(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await counting_handler_table(pool)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            b"{not json",
            key=b"k1",
            partition=0,
            headers=[("ce_type", b"aidport.test.Ping.v1")],
        )
        await producer.send_and_wait(topic, b'{"x": 1}', key=b"k2", partition=0)
    finally:
        await producer.stop()
    await write_streams(pool, writers=3, events_per_writer=5)
    await _publish_store(pool, kafka.bootstrap_servers, topic)

    consumer = make_consumer(pool, topic, kafka.bootstrap_servers)
    async with running(consumer.run()):
        await eventually(lambda: _has_effects(pool, 15))

    dead = await read_topic(kafka.bootstrap_servers, f"{topic}.dlq")
    assert sorted(m.value for m in dead) == [b'{"x": 1}', b"{not json"]
    assert all(dict(m.headers).get("dlq_reason") for m in dead)


async def test_a_failing_event_parks_its_shipment_and_others_go_on(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await counting_handler_table(pool)
    streams = await write_streams(pool, writers=3, events_per_writer=4, batch=1)
    poisoned = str(streams[0])
    broken = True

    async def handler(conn: Conn, envelope: Envelope) -> None:
        await count_effect(conn, envelope)  # undone by the savepoint when we raise
        if broken and envelope.subject == poisoned and envelope.data["n"] == 1:
            raise ValueError("a rule the handler cannot meet yet")

    await _publish_store(pool, kafka.bootstrap_servers, topic)
    consumer = make_consumer(pool, topic, kafka.bootstrap_servers, handler=handler)
    async with running(consumer.run()):
        await eventually(lambda: _has_effects(pool, 1 + 4 + 4))  # n=0 of the poisoned one
        await eventually(lambda: _parked_count(pool, 3))
        parked = await consumer.parked()
        assert [p.subject for p in parked] == [poisoned] * 3
        assert "a rule the handler cannot meet yet" in parked[0].error

        last = max(p.position for p in await EventStore("test").read_all(pool, limit=100))
        async with pool.acquire() as conn, conn.transaction():  # a later batch: waits too
            await EventStore("test").append(conn, poisoned, 4, [ping(streams[0], 4)])
        await _publish_store(pool, kafka.bootstrap_servers, topic, after=last)
        await eventually(lambda: _parked_count(pool, 4))

        broken = False
        assert await consumer.retry_parked(poisoned) == 0

    rows = await pool.fetch("SELECT n FROM effects WHERE subject = $1 ORDER BY seq", poisoned)
    assert [r["n"] for r in rows] == [0, 1, 2, 3, 4]  # order kept across the park
    assert set((await _effects(pool)).values()) == {1}


async def _parked_count(pool: asyncpg.Pool, count: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM parked_messages") == count)
