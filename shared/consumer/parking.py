"""Parking: a handler failure parks its event and every later event of the same shipment.

Parked events are stored as received (raw bytes), so parking never fails on data that
PostgreSQL could not hold as jsonb or text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from shared.consumer.dead_letters import clean_text, header_arrays, headers_from_arrays
from shared.contracts.base import EventRegistry
from shared.db import Conn, to_json
from shared.envelope import Envelope, from_kafka
from shared.observability import CONSUMED, PARKED


@dataclass(frozen=True)
class ParkedMessage:
    id: int
    subject: str
    event_id: str
    event_type: str
    error: str
    attempts: int
    topic: str
    partition: int
    offset: int


async def parked_subjects(conn: Conn, group: str, subjects: Sequence[str]) -> set[str]:
    """Which of ``subjects`` have parked events (only those: read once per batch)."""
    rows = await conn.fetch(
        "SELECT DISTINCT subject FROM parked_messages"
        " WHERE consumer_group = $1 AND subject = ANY($2::text[])",
        group,
        list(set(subjects)),
    )
    return {r["subject"] for r in rows}


async def park(conn: Conn, group: str, envelope: Envelope, error: str) -> None:
    keys, values = header_arrays(envelope.raw_headers)
    await conn.execute(
        """INSERT INTO parked_messages (consumer_group, subject, topic, partition,
               kafka_offset, event_id, event_type, raw_value, raw_header_keys,
               raw_header_values, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        group,
        clean_text(envelope.subject),
        envelope.topic,
        envelope.partition,
        envelope.offset,
        envelope.id,
        clean_text(envelope.type),
        envelope.raw_value,
        keys,
        values,
        clean_text(error),
    )
    CONSUMED.labels(group, "parked").inc()


def envelope_of(row: Any, types: EventRegistry) -> Envelope:
    """The parked event, decoded again (rows parked before raw bytes were kept have jsonb)."""
    if row["raw_value"] is not None:
        headers = headers_from_arrays(row["raw_header_keys"], row["raw_header_values"])
        value = bytes(row["raw_value"])
    else:
        headers = [(k, v.encode()) for k, v in row["headers"].items()]
        value = to_json(row["data"]).encode()
    envelope = from_kafka(headers, value, types)
    return replace(
        envelope,
        topic=row["topic"],
        partition=row["partition"],
        offset=row["kafka_offset"],
        raw_value=value,
        raw_headers=headers,
    )


async def refresh_gauge(pool: asyncpg.Pool, group: str) -> None:
    count = await pool.fetchval(
        "SELECT count(*) FROM parked_messages WHERE consumer_group = $1", group
    )
    PARKED.labels(group).set(count)


async def listing(
    pool: asyncpg.Pool, group: str, after: int = 0, limit: int = 1000
) -> list[ParkedMessage]:
    rows = await pool.fetch(
        """SELECT id, subject, event_id, event_type, error, attempts, topic, partition,
                  kafka_offset FROM parked_messages WHERE consumer_group = $1 AND id > $2
           ORDER BY id LIMIT $3""",
        group,
        after,
        limit,
    )
    return [
        ParkedMessage(
            id=r["id"],
            subject=r["subject"],
            event_id=str(r["event_id"]),
            event_type=r["event_type"],
            error=r["error"],
            attempts=r["attempts"],
            topic=r["topic"],
            partition=r["partition"],
            offset=r["kafka_offset"],
        )
        for r in rows
    ]
