"""Dead letters: messages a consumer could not decode, validate or store.

Each one is copied to ``<topic>.dlq`` with a reason header, and recorded in the
``dead_letters`` table with its raw bytes, whether or not the copy reached the broker
(it may be too large for the producer, or the broker may refuse it). Storing is itself
poison-proof: bytea for everything untrusted, reasons cleaned and truncated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.db import Conn
from shared.observability import CONSUMED, DEAD_LETTERS

log = logging.getLogger(__name__)

REASON_LIMIT = 1000
DLQ_SEND_TIMEOUT = 15.0  # seconds; past it the copy counts as not published


def clean_text(text: str, limit: int = REASON_LIMIT) -> str:
    """Text PostgreSQL always accepts: no NUL, valid UTF-8, bounded."""
    text = text.replace("\x00", "\\x00")[:limit]
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def header_arrays(headers: Sequence[tuple[str, bytes | None]] | None) -> tuple[list[bytes], ...]:
    """Kafka headers as two bytea arrays (keys, values): stored as received."""
    keys = [k.encode("utf-8", "surrogateescape") for k, _ in headers or ()]
    values = [v or b"" for _, v in headers or ()]
    return keys, values


def headers_from_arrays(keys: Sequence[bytes], values: Sequence[bytes]) -> list[tuple[str, bytes]]:
    return [(k.decode("utf-8", "surrogateescape"), v) for k, v in zip(keys, values, strict=True)]


@dataclass
class DeadLetter:
    """A consumed message that will not be handled, and why."""

    message: Any  # an aiokafka ConsumerRecord (or anything with the same fields)
    reason: str
    dlq_published: bool = False
    dlq_error: str | None = None


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    topic: str
    partition: int
    offset: int
    key: str
    reason: str
    dlq_published: bool
    dlq_error: str | None
    attempts: int
    size: int
    dead_at: datetime


async def publish_copies(
    producer: AIOKafkaProducer, group: str, dead: Sequence[DeadLetter]
) -> None:
    """Send every copy, then wait for all: a copy the broker refuses is only noted."""
    pending = []
    for letter in dead:
        pending.append(asyncio.ensure_future(_publish_copy(producer, group, letter)))
    await asyncio.gather(*pending)


async def _publish_copy(producer: AIOKafkaProducer, group: str, letter: DeadLetter) -> None:
    m = letter.message
    headers = [
        *(m.headers or ()),
        ("dlq_reason", clean_text(letter.reason).encode()),
        ("dlq_origin", f"{m.topic}/{m.partition}@{m.offset}".encode()),
        ("dlq_group", group.encode()),
    ]
    try:
        async with asyncio.timeout(DLQ_SEND_TIMEOUT):
            await producer.send_and_wait(
                f"{m.topic}.dlq", value=m.value, key=m.key, headers=headers
            )
        letter.dlq_published = True
    except Exception as error:  # too large, refused, unreachable: the table keeps it anyway
        letter.dlq_error = clean_text(f"{type(error).__name__}: {error}")
    log.error(
        "consumer %s: dead letter at %s/%s@%s (dlq copy %s): %s",
        group,
        m.topic,
        m.partition,
        m.offset,
        "published" if letter.dlq_published else f"NOT published, {letter.dlq_error}",
        clean_text(letter.reason, 300),
    )
    CONSUMED.labels(group, "dead_lettered").inc()


async def record(conn: Conn, group: str, dead: Sequence[DeadLetter]) -> None:
    """Inside the batch's transaction: a redelivered message is recorded once."""
    if not dead:
        return
    rows = []
    for letter in dead:
        m = letter.message
        keys, values = header_arrays(m.headers)
        rows.append(
            (
                group,
                m.topic,
                m.partition,
                m.offset,
                m.key,
                m.value,
                keys,
                values,
                clean_text(letter.reason),
                letter.dlq_published,
                letter.dlq_error,
            )
        )
    await conn.executemany(
        """INSERT INTO dead_letters (consumer_group, topic, partition, kafka_offset, msg_key,
               msg_value, header_keys, header_values, reason, dlq_published, dlq_error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (consumer_group, topic, partition, kafka_offset) DO NOTHING""",
        rows,
    )


async def refresh_gauge(pool: asyncpg.Pool, group: str) -> None:
    count = await pool.fetchval(
        "SELECT count(*) FROM dead_letters WHERE consumer_group = $1 AND resolved_at IS NULL",
        group,
    )
    DEAD_LETTERS.labels(group).set(count)


async def listing(
    pool: asyncpg.Pool, group: str, after: int = 0, limit: int = 50
) -> list[DeadLetterRow]:
    """Open dead letters, oldest first, a page after the id ``after``."""
    rows = await pool.fetch(
        """SELECT id, topic, partition, kafka_offset, msg_key, reason, dlq_published,
                  dlq_error, attempts, coalesce(length(msg_value), 0) AS size, dead_at
           FROM dead_letters WHERE consumer_group = $1 AND resolved_at IS NULL AND id > $2
           ORDER BY id LIMIT $3""",
        group,
        after,
        limit,
    )
    return [
        DeadLetterRow(
            id=r["id"],
            topic=r["topic"],
            partition=r["partition"],
            offset=r["kafka_offset"],
            key=(r["msg_key"] or b"").decode("utf-8", "backslashreplace")[:200],
            reason=r["reason"],
            dlq_published=r["dlq_published"],
            dlq_error=r["dlq_error"],
            attempts=r["attempts"],
            size=r["size"],
            dead_at=r["dead_at"],
        )
        for r in rows
    ]
