"""Offsets: where each partition's next record is, kept in Postgres with the effects.

Postgres holds the truth (stored in the batch's transaction); Kafka's committed offsets
are written too, but only so that tools can show lag. ``processed_events`` (the ids that
make re-published duplicates harmless) is pruned behind them, see ``prune_processed``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from shared.db import Conn
from shared.observability import CONSUMER_LAG

log = logging.getLogger(__name__)

Batch = Mapping[TopicPartition, Sequence[Any]]


def next_offsets(batch: Batch) -> dict[TopicPartition, int]:
    return {tp: records[-1].offset + 1 for tp, records in batch.items() if records}


async def stored(pool: asyncpg.Pool, group: str) -> dict[TopicPartition, int]:
    rows = await pool.fetch(
        "SELECT topic, partition, next_offset FROM consumer_offsets WHERE consumer_group = $1",
        group,
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def store(conn: Conn, group: str, batch: Batch) -> None:
    await conn.execute(
        """INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
           SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(t, p, o)
           ON CONFLICT (consumer_group, topic, partition)
           DO UPDATE SET next_offset = excluded.next_offset""",
        group,
        *_columns(next_offsets(batch)),
    )


def _columns(offsets: dict[TopicPartition, int]) -> tuple[list[str], list[int], list[int]]:
    ordered = sorted(offsets.items())
    return (
        [tp.topic for tp, _ in ordered],
        [tp.partition for tp, _ in ordered],
        [o for _, o in ordered],
    )


async def commit_to_kafka(
    consumer: AIOKafkaConsumer, group: str, positions: Mapping[TopicPartition, int]
) -> None:
    """Informational only (lag in Kafka tools); Postgres holds the truth."""
    if not positions:
        return
    try:
        await consumer.commit(dict(positions))
    except KafkaError as error:
        log.debug("consumer %s: Kafka commit skipped: %r", group, error)


def observe_lag(
    consumer: AIOKafkaConsumer, group: str, positions: Mapping[TopicPartition, int]
) -> None:
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        position = positions.get(tp)
        if end is not None and position is not None:
            CONSUMER_LAG.labels(group, tp.topic, tp.partition).set(max(end - position, 0))


async def prune_processed(pool: asyncpg.Pool, group: str, retention: timedelta) -> int:
    """Forget processed ids older than ``retention``; returns how many were deleted.

    Why this keeps deduplication correct: a record at an offset below the stored one is
    never handled again (the consumer seeks to the stored offsets and ``_in_sequence``
    drops older records), so an id is only needed for a DUPLICATE PUBLICATION of its event,
    which arrives at a new offset. The relay re-publishes only what it sent but had not yet
    checkpointed when it stopped (seconds to minutes later), so ids are kept for a window
    far longer than any such restart (days, ``AIDPORT_PROCESSED_RETENTION_HOURS``)."""
    status = await pool.execute(
        "DELETE FROM processed_events WHERE consumer_group = $1"
        " AND processed_at < now() - $2::interval",
        group,
        retention,
    )
    return int(status.split()[-1])
