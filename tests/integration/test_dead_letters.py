"""Poison messages against the real broker and database: none blocks its partition."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared.db import Conn
from shared.envelope import Envelope, to_kafka
from shared.eventstore import EventStore
from tests.conftest import KafkaBroker
from tests.integration.kit import (
    counting_handler_table,
    eventually,
    make_consumer,
    running,
    write_streams,
)
from tests.kafka_helpers import read_topic
from tests.sample_events import ping

pytestmark = pytest.mark.integration
BIG = 1024 * 1024 - 100  # the broker takes it; its dead-letter copy (more headers) is too large


def ce_headers(subject: str, **override: str) -> list[tuple[str, bytes]]:
    base = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": "aidport.test.Ping.v1",
        "ce_source": "aidport/test",
        "ce_subject": subject,
        "ce_time": "2026-01-01T00:00:00+00:00",
    } | override
    return [(k, v.encode()) for k, v in base.items()]


def poison(subject: str) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """(key, value, headers) of each kind, with the text its reason must contain."""
    good = json.dumps({"shipment_id": subject, "n": 1}).encode()
    key = subject.encode()
    return [
        (key, good, []),
        (key, None, ce_headers(subject)),
        (key, b"{nope", ce_headers(subject)),
        (key, b"\xff\xfe", ce_headers(subject)),
        (key, good, ce_headers(subject, ce_type="aidport.nobody.Knows.v1")),
        (b"another-key", good, ce_headers(subject)),
        (key, json.dumps({"shipment_id": subject, "n": "x"}).encode(), ce_headers(subject)),
        (
            key,
            json.dumps({"shipment_id": subject, "n": 1, "s": "a\x00"}).encode(),
            ce_headers(subject),
        ),
        (key, b"x" * 5000, ce_headers(subject)),  # over this runner's 4000-byte limit
    ]


REASONS = [
    "missing CloudEvents headers",
    "tombstone",
    "JSONDecodeError",
    "not UTF-8",
    "unknown ce_type",
    "key differs from ce_subject",
    "aidport.test.Ping.v1",
    "NUL",
    "over the limit",
]


async def _produce(bootstrap: str, topic: str, messages: list[tuple]) -> None:  # type: ignore[type-arg]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value, key=key, partition=0, headers=headers)
    finally:
        await producer.stop()


async def _publish_store(pool: asyncpg.Pool, bootstrap: str, topic: str) -> None:
    records = [to_kafka(e, "aidport/test") for e in await EventStore("test").read_all(pool)]
    await _produce(bootstrap, topic, [(r.key, r.value, r.headers) for r in records])


async def test_every_poison_kind_is_a_dead_letter_and_the_partition_goes_on(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await counting_handler_table(pool)
    subject = str(uuid.uuid4())
    kinds = poison(subject)
    big = (subject.encode(), b"y" * BIG, [])  # its DLQ copy is over the producer's limit
    await _produce(kafka.bootstrap_servers, topic, [*kinds, big])
    await write_streams(pool, writers=3, events_per_writer=5)
    await _publish_store(pool, kafka.bootstrap_servers, topic)

    consumer = make_consumer(pool, topic, kafka.bootstrap_servers, max_message_bytes=4000)
    async with running(consumer.run()):
        await eventually(lambda: _effects(pool, 15))
        await eventually(lambda: _dead(pool, len(kinds) + 1))

    rows = await pool.fetch("SELECT * FROM dead_letters ORDER BY kafka_offset")
    assert [r["kafka_offset"] for r in rows] == list(range(len(kinds) + 1))
    for row, reason in zip(rows, [*REASONS, "over the limit"], strict=True):
        assert reason in row["reason"]
    assert [bytes(r["msg_value"] or b"") for r in rows[:3]] == [kinds[0][1], b"", b"{nope"]
    assert rows[1]["msg_value"] is None  # the tombstone, kept as it was
    assert [r["dlq_published"] for r in rows] == [True] * len(kinds) + [False]
    assert "MessageSizeTooLarge" in rows[-1]["dlq_error"]
    dlq = await read_topic(kafka.bootstrap_servers, f"{topic}.dlq")
    assert len(dlq) == len(kinds)
    assert all(dict(m.headers)["dlq_reason"] for m in dlq)
    assert await pool.fetchval("SELECT next_offset FROM consumer_offsets WHERE partition = 0") > 0


async def test_a_database_data_error_parks_raw_and_a_retry_replays_it(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    """numeric overflow in the handler's own table: parked, never a stuck consumer."""
    await pool.execute("CREATE TABLE small (event_id uuid PRIMARY KEY, n smallint NOT NULL)")

    async def store_small(conn: Conn, envelope: Envelope) -> None:
        await conn.execute(
            "INSERT INTO small VALUES ($1, $2::int)", envelope.id, envelope.data["n"]
        )

    streams = await write_streams(pool, writers=2, events_per_writer=1)
    overflow = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        big = ping(overflow, 100_000)  # over smallint
        await EventStore("test").append(conn, str(overflow), 0, [big])
    await _publish_store(pool, kafka.bootstrap_servers, topic)

    consumer = make_consumer(pool, topic, kafka.bootstrap_servers, handler=store_small)
    async with running(consumer.run()):
        await eventually(lambda: _count(pool, "SELECT count(*) FROM small", len(streams)))
        await eventually(lambda: _count(pool, "SELECT count(*) FROM parked_messages", 1))
        parked = await consumer.parked()
        assert "NumericValueOutOfRange" in parked[0].error
        assert await pool.fetchval("SELECT raw_value IS NOT NULL FROM parked_messages")

        await pool.execute("ALTER TABLE small ALTER COLUMN n TYPE int")
        assert await consumer.retry_parked(str(overflow)) == 0
    assert await pool.fetchval("SELECT n FROM small WHERE event_id = $1", big.event_id) == 100_000


async def test_a_dead_letter_is_handled_on_retry_once_its_type_is_known(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await counting_handler_table(pool)
    subject = str(uuid.uuid4())
    good = json.dumps({"shipment_id": subject, "n": 7}).encode()
    later = ce_headers(subject, ce_type="aidport.test.Later.v1")
    await _produce(kafka.bootstrap_servers, topic, [(subject.encode(), good, later)])
    consumer = make_consumer(pool, topic, kafka.bootstrap_servers)
    async with running(consumer.run()):
        await eventually(lambda: _dead(pool, 1))
    [letter] = await consumer.dead_letters()
    assert "unknown ce_type" in letter.reason

    assert await consumer.retry_dead_letter(letter.id) is not None  # still unknown
    consumer.types.upcaster("aidport.test.Later.v1", "aidport.test.Ping.v1")(lambda d: d)
    assert await consumer.retry_dead_letter(letter.id) is None
    assert await pool.fetchval("SELECT n FROM effects WHERE subject = $1", subject) == 7
    assert await consumer.dead_letters() == []
    with pytest.raises(LookupError):
        await consumer.retry_dead_letter(letter.id)


async def _effects(pool: asyncpg.Pool, count: int) -> bool:
    return await _count(pool, "SELECT count(*) FROM effects", count)


async def _dead(pool: asyncpg.Pool, count: int) -> bool:
    return await _count(pool, "SELECT count(*) FROM dead_letters", count)


async def _count(pool: asyncpg.Pool, sql: str, count: int) -> bool:
    return bool(await pool.fetchval(sql) == count)
