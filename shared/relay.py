"""The outbox relay: publishes the service's events table to its Kafka topic in position order.

One relay is active per service: it holds a session-level Postgres advisory lock on its
own connection, so a second replica waits until the first one dies. It publishes a batch
with an idempotent producer, waits for the broker's acknowledgements, and only then moves
its checkpoint. A crash in between re-publishes the batch; consumers deduplicate by event id.
It is woken by LISTEN/NOTIFY on each append and polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.db import Conn
from shared.envelope import to_kafka
from shared.eventstore import NOTIFY_CHANNEL, EventStore, RecordedEvent
from shared.observability import RELAY_ACTIVE, RELAY_BACKLOG, RELAY_OLDEST_AGE, RELAY_PUBLISHED

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], AIOKafkaProducer]


def idempotent_producer(bootstrap_servers: str) -> ProducerFactory:
    def make() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            enable_idempotence=True,  # implies acks=all; retries cannot reorder or duplicate
            linger_ms=5,
            request_timeout_ms=15000,
        )

    return make


class Relay:
    def __init__(
        self,
        *,
        service: str,
        dsn: str,
        topic: str,
        producer_factory: ProducerFactory,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        after_publish: Callable[[list[RecordedEvent]], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.dsn = dsn
        self.topic = topic
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.after_publish = after_publish  # a test hook: runs between publish and checkpoint
        self.store = EventStore(service)
        self.lock_key = zlib.crc32(f"aidport-relay:{service}".encode())
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled; reconnects with backoff after database or broker errors."""
        backoff = 0.5
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay %s failed; retrying in %.1fs", self.service, backoff)
                RELAY_ACTIVE.labels(self.service).set(0)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _run_once(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await self._acquire_lock(conn)
            RELAY_ACTIVE.labels(self.service).set(1)
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
            producer = self.producer_factory()
            await producer.start()
            try:
                await self._publish_forever(conn, producer)
            finally:
                await producer.stop()
        finally:
            RELAY_ACTIVE.labels(self.service).set(0)
            await conn.close()

    async def _acquire_lock(self, conn: Conn) -> None:
        # Polling, not pg_advisory_lock: a blocked call could not notice a dead connection.
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):  # noqa: ASYNC110
            await asyncio.sleep(self.poll_interval)
        log.info("relay %s is the active publisher", self.service)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _publish_forever(self, conn: Conn, producer: AIOKafkaProducer) -> None:
        checkpoint = await self._checkpoint(conn)
        while True:
            self._wake.clear()
            batch = await self.store.read_all(conn, after=checkpoint, limit=self.batch_size)
            await self._observe_backlog(conn, checkpoint)
            if not batch:
                await self._sleep_until_woken()
                continue
            await self._publish(producer, batch)
            if self.after_publish is not None:
                await self.after_publish(batch)
            checkpoint = batch[-1].position
            await self._save_checkpoint(conn, checkpoint)
            RELAY_PUBLISHED.labels(self.service).inc(len(batch))

    async def _publish(self, producer: AIOKafkaProducer, batch: list[RecordedEvent]) -> None:
        acks = []
        for event in batch:
            record = to_kafka(event, source=f"aidport/{self.service}")
            acks.append(
                await producer.send(
                    self.topic, value=record.value, key=record.key, headers=record.headers
                )
            )
        await asyncio.gather(*acks)  # every event acknowledged before the checkpoint moves

    async def _sleep_until_woken(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    async def _checkpoint(self, conn: Conn) -> int:
        value = await conn.fetchval(
            "SELECT position FROM relay_checkpoints WHERE relay = $1", self.service
        )
        return int(value or 0)

    async def _save_checkpoint(self, conn: Conn, position: int) -> None:
        await conn.execute(
            "INSERT INTO relay_checkpoints (relay, position) VALUES ($1, $2)"
            " ON CONFLICT (relay) DO UPDATE SET position = excluded.position",
            self.service,
            position,
        )

    async def _observe_backlog(self, conn: Conn, checkpoint: int) -> None:
        # Index lookups only: a count(*) would rescan the whole backlog on every batch.
        row = await conn.fetchrow(
            """SELECT coalesce((SELECT max(position) FROM events), 0) - $1 AS backlog,
                      (SELECT recorded_at FROM events WHERE position > $1
                       ORDER BY position LIMIT 1) AS oldest""",
            checkpoint,
        )
        assert row is not None
        RELAY_BACKLOG.labels(self.service).set(row["backlog"])
        oldest: datetime | None = row["oldest"]
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        RELAY_OLDEST_AGE.labels(self.service).set(age)
