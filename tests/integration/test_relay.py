"""The outbox relay against the real broker: every event exactly once, in stream order."""

from __future__ import annotations

import time
from collections import defaultdict

import asyncpg
import pytest

from shared.eventstore import EventStore, RecordedEvent
from tests.conftest import KafkaBroker
from tests.integration.kit import (
    counting_handler_table,
    eventually,
    make_consumer,
    make_relay,
    running,
    write_streams,
)
from tests.kafka_helpers import read_topic

pytestmark = pytest.mark.integration


async def _published_up_to_head(pool: asyncpg.Pool) -> bool:
    head = await EventStore("test").head(pool)
    checkpoint = await pool.fetchval("SELECT position FROM relay_checkpoints WHERE relay = 'test'")
    return checkpoint == head


async def test_relay_publishes_every_event_once_in_stream_order(
    pool: asyncpg.Pool, database: str, kafka: KafkaBroker, topic: str
) -> None:
    writers, per_writer = 25, 120
    started = time.perf_counter()
    async with running(make_relay(database, topic, kafka.bootstrap_servers).run()):
        await write_streams(pool, writers, per_writer)
        written = time.perf_counter() - started
        await eventually(lambda: _published_up_to_head(pool))
    published = time.perf_counter() - started

    stored = await EventStore("test").read_all(pool, limit=100_000)
    messages = await read_topic(kafka.bootstrap_servers, topic)
    print(
        f"\nrelay: {len(stored)} events by {writers} writers; written in {written:.2f}s, "
        f"all published in {published:.2f}s"
    )

    assert len(stored) == writers * per_writer
    ids_in_kafka = [dict(m.headers)["ce_id"].decode() for m in messages]
    assert len(ids_in_kafka) == len(set(ids_in_kafka)) == len(stored)  # none twice
    assert set(ids_in_kafka) == {str(e.event_id) for e in stored}  # none skipped
    versions: dict[bytes, list[int]] = defaultdict(list)
    for m in messages:
        versions[m.key].append(int(dict(m.headers)["ce_streamversion"]))
    assert len(versions) == writers
    assert all(v == list(range(1, per_writer + 1)) for v in versions.values())


async def test_second_relay_waits_while_the_first_holds_the_lock(
    pool: asyncpg.Pool, database: str, kafka: KafkaBroker, topic: str
) -> None:
    first = make_relay(database, topic, kafka.bootstrap_servers)
    second = make_relay(database, topic, kafka.bootstrap_servers)
    async with running(first.run(), second.run()):
        await write_streams(pool, writers=5, events_per_writer=20)
        await eventually(lambda: _published_up_to_head(pool))
    messages = await read_topic(kafka.bootstrap_servers, topic)
    ids = [dict(m.headers)["ce_id"] for m in messages]
    assert len(ids) == len(set(ids)) == 100


async def test_crash_between_publish_and_checkpoint_applies_effects_once(
    pool: asyncpg.Pool, database: str, kafka: KafkaBroker, topic: str
) -> None:
    crashes = 0

    async def crash_before_checkpoint(batch: list[RecordedEvent]) -> None:
        nonlocal crashes
        if crashes < 2:
            crashes += 1
            raise ConnectionResetError("relay killed after publishing, before its checkpoint")

    await counting_handler_table(pool)
    await write_streams(pool, writers=10, events_per_writer=30)
    relay = make_relay(
        database, topic, kafka.bootstrap_servers, after_publish=crash_before_checkpoint
    )
    consumer = make_consumer(pool, topic, kafka.bootstrap_servers)
    async with running(relay.run(), consumer.run()):
        await eventually(lambda: _published_up_to_head(pool))
        await eventually(lambda: _effects_count(pool, 300))

    messages = await read_topic(kafka.bootstrap_servers, topic)
    assert crashes == 2
    assert len(messages) > 300  # the crashed batches really were published again
    applied = await pool.fetch("SELECT applied FROM effects")
    assert len(applied) == 300
    assert {r["applied"] for r in applied} == {1}


async def _effects_count(pool: asyncpg.Pool, expected: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM effects") == expected)
