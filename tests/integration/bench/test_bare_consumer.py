"""The bench's bare consumer, the floor a catch-up is set beside: it reads every message of
a topic once, stores each batch with its offsets, and claims a rate only when it read all."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from bench.bare_consumer import drain
from tests.conftest import KafkaBroker

pytestmark = pytest.mark.integration


async def _produce(bootstrap: str, topic: str, ids: list[uuid.UUID]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for n, event_id in enumerate(ids):
            headers = [("ce_id", str(event_id).encode())]
            await producer.send(topic, b'{"n": %d}' % n, key=b"k%d" % (n % 7), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def test_every_message_is_stored_once_with_the_offsets_after_it(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    ids = [uuid.uuid4() for _ in range(1_200)]
    await _produce(kafka.bootstrap_servers, topic, [*ids, ids[0]])  # one sent twice
    async with pool.acquire() as conn:
        result = await drain(conn, kafka.bootstrap_servers, topic, len(ids) + 1)
    assert result["messages"] == len(ids) + 1
    assert result["messages_per_s"] > 0
    stored = await pool.fetch("SELECT id, body FROM bare_consumed")
    assert {r["id"] for r in stored} == set(ids)
    assert await pool.fetchval("SELECT sum(next_offset) FROM bare_offsets") == len(ids) + 1


async def test_a_run_that_did_not_read_everything_claims_no_rate(
    pool: asyncpg.Pool, kafka: KafkaBroker, topic: str
) -> None:
    await _produce(kafka.bootstrap_servers, topic, [uuid.uuid4() for _ in range(10)])
    async with pool.acquire() as conn:
        result = await drain(conn, kafka.bootstrap_servers, topic, 11, limit_s=2)
    assert result["messages"] == 10
    assert result["messages_per_s"] == 0
