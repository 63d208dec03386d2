"""The floor of a catch-up on this machine: aiokafka and asyncpg with nothing between them.

``drain`` reads a whole topic from its first offsets as customs' consumer reads it
(read_committed, batches of at most 500 records) and stores each batch in one transaction:
every message as a row (its id from ``ce_id``, its value as jsonb; ``ON CONFLICT DO
NOTHING``, so that a retried batch is harmless) and the partitions' next offsets. Nothing
else: no envelope checks, no decision, no event store, no projection, no relay. It is to a
consumer what the bare INSERT endpoint is to a command. It is timed from the partitions'
assignment, as customs' consumer is: the group's join is not timed. It asserts nothing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from shared.db import Conn

MAX_RECORDS = 500  # as the services' consumers (shared.consumer.runner.DEFAULT_MAX_RECORDS)

TABLES = """
CREATE TABLE IF NOT EXISTS bare_consumed (id uuid PRIMARY KEY, body jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bare_offsets (
    topic text, partition int, next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));
"""
INSERT = (
    "INSERT INTO bare_consumed (id, body) SELECT * FROM unnest($1::uuid[], $2::text[]::jsonb[])"
    " ON CONFLICT (id) DO NOTHING"
)
STORE_OFFSETS = """INSERT INTO bare_offsets (topic, partition, next_offset)
    SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
    ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset"""


async def drain(
    conn: Conn, bootstrap: str, topic: str, messages: int, limit_s: float = 120
) -> dict[str, Any]:
    """Consume the first ``messages`` messages of ``topic``, or stop after ``limit_s``."""
    await conn.execute(TABLES)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4()}",  # a fresh group: from the first offsets
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=2 * 1024 * 1024,
    )
    clock = _Clock()
    await consumer.start()
    try:
        consumer.subscribe([topic], listener=clock)
        stored, deadline = 0, time.perf_counter() + limit_s  # the join included: always ends
        while stored < messages and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
            if batch:
                stored += await _store(conn, batch)
        seconds = clock.elapsed()
    finally:
        await consumer.stop()
    return {
        "messages": stored,
        "seconds": round(seconds, 2),
        "messages_per_s": round(stored / seconds) if stored >= messages and seconds else 0,
    }


async def _store(conn: Conn, batch: dict[TopicPartition, list[Any]]) -> int:
    records = [r for rs in batch.values() for r in rs]
    ids = [uuid.UUID(_header(r, "ce_id")) for r in records]
    ends = sorted((tp.topic, tp.partition, rs[-1].offset + 1) for tp, rs in batch.items())
    async with conn.transaction():
        await conn.execute(INSERT, ids, [r.value.decode() for r in records])
        await conn.execute(STORE_OFFSETS, *(list(column) for column in zip(*ends, strict=True)))
    return len(records)


class _Clock(ConsumerRebalanceListener):  # type: ignore[misc]
    """Time from the partitions' assignment: the group's join is not the consumer's work."""

    def __init__(self) -> None:
        self.started: float | None = None

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.started = self.started or time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.perf_counter() - self.started


def _header(record: Any, name: str) -> str:
    value: bytes = next(v for k, v in record.headers if k == name)
    return value.decode()
