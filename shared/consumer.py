"""The consumer runner: Kafka in, effects in Postgres, exactly once.

Delivery is at least once; effects are applied once because each batch is handled in
ONE Postgres transaction that also stores the consumed offsets and the handled event ids.
On partition assignment the consumer seeks to the offsets stored in Postgres, not to
Kafka's committed ones (those are written too, but only so that tools can show lag).

Failures, by kind:
- transient (database or broker unreachable, a concurrency conflict): the batch is rolled
  back, the consumer seeks back to its first offsets and retries with backoff, skipping nothing;
- undecodable message: published to ``<topic>.dlq`` and passed over;
- the handler raised on a valid event: that event is parked with the error, and every later
  event of the same shipment is parked behind it (order kept) while other shipments go on.
  ``retry_parked`` replays a shipment's parked events once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shared.contracts.base import EventRegistry, JsonDict, UnknownEventType, registry
from shared.db import Conn
from shared.envelope import Envelope, UndecodableMessage, from_kafka
from shared.eventstore import ConcurrencyError
from shared.observability import CONSUMED, CONSUMER_LAG, PARKED, correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[Conn, Envelope], Awaitable[None]]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConcurrencyError,
    KafkaError,
)


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


def reaction_metadata(service: str, envelope: Envelope) -> JsonDict:
    """The metadata of events a service records in reaction to ``envelope``: the service
    is the actor, the conversation goes on, and the envelope is the cause."""
    return {
        "actor": f"aidport/{service}",
        "actor_role": "system",
        "correlation_id": envelope.correlation_id,
        "causation_id": str(envelope.id),
    }


def _lock_keys(group: str, subjects: Sequence[str]) -> list[int]:
    """Per-shipment advisory locks, sorted so that two transactions never deadlock."""
    return sorted({zlib.crc32(f"{group}:{s}".encode()) for s in subjects})


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka rebalances in its own task, possibly while a batch is being handled: the
    revocation waits for that batch to commit, and no batch starts until the new
    assignment is positioned at the offsets stored in Postgres."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner
        self.holding = False

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if not self.holding:
            await self.runner.batch_lock.acquire()
            self.holding = True

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self.runner.seek_to_stored_offsets(assigned)
        finally:
            if self.holding:
                self.holding = False
                self.runner.batch_lock.release()


class ConsumerRunner:
    def __init__(
        self,
        *,
        group: str,
        topics: Sequence[str],
        bootstrap_servers: str,
        pool: asyncpg.Pool,
        handler: Handler,
        types: EventRegistry = registry,
        max_records: int = 200,
        commit_to_kafka: bool = True,
    ) -> None:
        self.group = group
        self.topics = list(topics)
        self.bootstrap_servers = bootstrap_servers
        self.pool = pool
        self.handler = handler
        self.types = types
        self.max_records = max_records
        self.commit_to_kafka = commit_to_kafka
        self.consumer: AIOKafkaConsumer | None = None
        self.dlq: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()  # set once partitions are assigned and positioned
        self.batch_lock = asyncio.Lock()  # a batch and a rebalance never overlap
        # The next offset to handle per partition, from Postgres; records that do not follow
        # on from it are not handled (see _in_sequence).
        self._next: dict[TopicPartition, int] = {}
        self._reseeked: dict[TopicPartition, int] = {}

    # -- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        """Consume until cancelled."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self.dlq = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all")
        await self._start_with_backoff()
        try:
            self.consumer.subscribe(self.topics, listener=_SeekToStoredOffsets(self))
            await self._refresh_parked_gauge()
            while True:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
                if batch:
                    await self.process_batch(batch)
                self._observe_lag()
        finally:
            await self.consumer.stop()
            await self.dlq.stop()

    async def _start_with_backoff(self) -> None:
        assert self.consumer is not None and self.dlq is not None
        delay = 0.5
        while True:
            try:
                await self.consumer.start()
                await self.dlq.start()
                return
            except KafkaError:
                log.warning("consumer %s: broker not reachable, retrying", self.group)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def seek_to_stored_offsets(self, assigned: set[TopicPartition]) -> None:
        assert self.consumer is not None
        rows = await self.pool.fetch(
            "SELECT topic, partition, next_offset FROM consumer_offsets WHERE consumer_group = $1",
            self.group,
        )
        stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        fresh = [tp for tp in assigned if tp not in stored]
        if fresh:  # never consumed by this group: from the first offset the broker still has
            stored |= await self.consumer.beginning_offsets(fresh)
        for tp in assigned:
            self.consumer.seek(tp, stored[tp])
            self._next[tp] = stored[tp]
        self.ready.set()

    # -- one batch -----------------------------------------------------------------

    async def process_batch(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Decode (dead-lettering the undecodable), then handle; retry transient failures."""
        async with self.batch_lock:
            if self.consumer is not None:
                batch = self._in_sequence(batch)
            await self._process_owned(batch)

    def _in_sequence(
        self, batch: dict[TopicPartition, list[Any]]
    ) -> dict[TopicPartition, list[Any]]:
        """Only records that follow on from the stored position of a partition we own.

        aiokafka can hand out records fetched while a rebalance listener is still seeking
        (aio-libs/aiokafka#738), from the wrong position. Records before the stored position
        were handled already; a jump past it would skip records, so the partition is sought
        back once (a second identical jump is a real gap, e.g. transaction markers)."""
        assert self.consumer is not None
        owned = self.consumer.assignment()
        kept: dict[TopicPartition, list[Any]] = {}
        for tp, records in batch.items():
            expected = self._next.get(tp)
            if tp not in owned or expected is None:
                continue
            records = [r for r in records if r.offset >= expected]
            if records and records[0].offset > expected and self._reseeked.get(tp) != expected:
                self._reseeked[tp] = expected
                self.consumer.seek(tp, expected)
                continue
            if records:
                kept[tp] = records
        return kept

    async def _process_owned(self, batch: dict[TopicPartition, list[Any]]) -> None:
        envelopes = [
            envelope
            for messages in batch.values()
            for message in messages
            if (envelope := await self._decode_or_dead_letter(message)) is not None
        ]
        delay = 0.2
        while True:
            try:
                await self.handle_batch(envelopes, batch)
                return
            except TRANSIENT_ERRORS as error:
                log.warning("consumer %s: transient error, retrying batch: %r", self.group, error)
                CONSUMED.labels(self.group, "retried").inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def handle_batch(
        self, envelopes: Sequence[Envelope], batch: dict[TopicPartition, list[Any]]
    ) -> None:
        """Handle one batch in one Postgres transaction, with the offsets it consumed."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
                _lock_keys(self.group, [e.subject for e in envelopes]),
            )
            parked = await self._parked_subjects(conn)
            done = await self._processed_among(conn, [e.id for e in envelopes])
            for envelope in envelopes:
                await self._handle_one(conn, envelope, parked, done)
            await self._store_offsets(conn, batch)
        self._next.update({tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs})
        await self._commit_to_kafka(batch)
        if parked:
            await self._refresh_parked_gauge()

    async def _decode_or_dead_letter(self, message: Any) -> Envelope | None:
        try:
            envelope = from_kafka(message.headers, message.value, self.types)
        except UnknownEventType:
            CONSUMED.labels(self.group, "ignored").inc()
            return None  # a tolerant reader: types we do not know are not ours to handle
        except UndecodableMessage as error:
            await self._dead_letter(message, str(error))
            return None
        return replace(
            envelope, topic=message.topic, partition=message.partition, offset=message.offset
        )

    async def _dead_letter(self, message: Any, reason: str) -> None:
        assert self.dlq is not None
        log.error(
            "consumer %s: undecodable message at %s/%s@%s: %s",
            self.group,
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        headers = [
            *(message.headers or ()),
            ("dlq_reason", reason.encode()[:1000]),
            ("dlq_origin", f"{message.topic}/{message.partition}@{message.offset}".encode()),
            ("dlq_group", self.group.encode()),
        ]
        await self.dlq.send_and_wait(
            f"{message.topic}.dlq", value=message.value, key=message.key, headers=headers
        )
        CONSUMED.labels(self.group, "dead_lettered").inc()

    async def _handle_one(
        self, conn: Conn, envelope: Envelope, parked: set[str], done: set[UUID]
    ) -> None:
        token = correlation_id.set(envelope.correlation_id)
        try:
            if envelope.subject in parked:
                await self._park(conn, envelope, "waiting behind an earlier parked event")
            elif envelope.id in done:
                CONSUMED.labels(self.group, "duplicate").inc()
            elif error := await self._apply(conn, envelope):
                await self._park(conn, envelope, error)
                parked.add(envelope.subject)
            else:
                done.add(envelope.id)
                CONSUMED.labels(self.group, "handled").inc()
        finally:
            correlation_id.reset(token)

    async def _apply(self, conn: Conn, envelope: Envelope) -> str | None:
        """Run the handler in a savepoint and record the event as processed; returns the
        error of a failed handler (its effects are undone), re-raises transient errors."""
        try:
            async with conn.transaction():
                await self.handler(conn, envelope)
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            log.exception(
                "consumer %s: handler failed on %s (shipment %s)",
                self.group,
                envelope.id,
                envelope.subject,
            )
            return f"{type(error).__name__}: {error}"
        await self._mark_processed(conn, envelope)
        return None

    async def _processed_among(self, conn: Conn, ids: Sequence[UUID]) -> set[UUID]:
        rows = await conn.fetch(
            "SELECT event_id FROM processed_events WHERE consumer_group = $1"
            " AND event_id = ANY($2::uuid[])",
            self.group,
            list(ids),
        )
        return {r["event_id"] for r in rows}

    async def _mark_processed(self, conn: Conn, envelope: Envelope) -> None:
        await conn.execute(
            "INSERT INTO processed_events (consumer_group, event_id) VALUES ($1, $2)",
            self.group,
            envelope.id,
        )

    async def _store_offsets(self, conn: Conn, batch: dict[TopicPartition, list[Any]]) -> None:
        await conn.executemany(
            "INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (consumer_group, topic, partition)"
            " DO UPDATE SET next_offset = excluded.next_offset",
            [
                (self.group, tp.topic, tp.partition, msgs[-1].offset + 1)
                for tp, msgs in batch.items()
                if msgs
            ],
        )

    async def _commit_to_kafka(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Informational only (lag in Kafka tools); Postgres holds the truth."""
        if not self.commit_to_kafka or self.consumer is None:
            return
        try:
            await self.consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items()})
        except KafkaError as error:
            log.info("consumer %s: Kafka commit skipped: %r", self.group, error)

    def _observe_lag(self) -> None:
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            position = self._next.get(tp)
            if end is not None and position is not None:
                CONSUMER_LAG.labels(self.group, tp.topic, tp.partition).set(max(end - position, 0))

    # -- parking -------------------------------------------------------------------

    async def _parked_subjects(self, conn: Conn) -> set[str]:
        rows = await conn.fetch(
            "SELECT DISTINCT subject FROM parked_messages WHERE consumer_group = $1", self.group
        )
        return {r["subject"] for r in rows}

    async def _park(self, conn: Conn, envelope: Envelope, error: str) -> None:
        await conn.execute(
            """INSERT INTO parked_messages (consumer_group, subject, topic, partition,
                   kafka_offset, event_id, event_type, headers, data, error)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10)""",
            self.group,
            envelope.subject,
            envelope.topic,
            envelope.partition,
            envelope.offset,
            envelope.id,
            envelope.type,
            json.dumps(envelope.attributes),
            json.dumps(envelope.data),
            error,
        )
        CONSUMED.labels(self.group, "parked").inc()

    async def _refresh_parked_gauge(self) -> None:
        count = await self.pool.fetchval(
            "SELECT count(*) FROM parked_messages WHERE consumer_group = $1", self.group
        )
        PARKED.labels(self.group).set(count)

    async def parked(self) -> list[ParkedMessage]:
        rows = await self.pool.fetch(
            """SELECT id, subject, event_id, event_type, error, attempts, topic, partition,
                      kafka_offset FROM parked_messages WHERE consumer_group = $1 ORDER BY id""",
            self.group,
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

    async def retry_parked(self, subject: str) -> int:
        """Replay a shipment's parked events in order; returns how many are still parked."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)", _lock_keys(self.group, [subject])[0]
            )
            rows = await conn.fetch(
                "SELECT * FROM parked_messages WHERE consumer_group = $1 AND subject = $2"
                " ORDER BY id FOR UPDATE",
                self.group,
                subject,
            )
            for row in rows:
                envelope = from_kafka(
                    [(k, v.encode()) for k, v in json.loads(row["headers"]).items()],
                    row["data"].encode(),
                    self.types,
                )
                envelope = replace(
                    envelope,
                    topic=row["topic"],
                    partition=row["partition"],
                    offset=row["kafka_offset"],
                )
                done = await self._processed_among(conn, [envelope.id])
                if not done and (error := await self._apply(conn, envelope)):
                    await conn.execute(
                        "UPDATE parked_messages SET error = $2, attempts = attempts + 1"
                        " WHERE id = $1",
                        row["id"],
                        error,
                    )
                    break
                await conn.execute("DELETE FROM parked_messages WHERE id = $1", row["id"])
            remaining = await conn.fetchval(
                "SELECT count(*) FROM parked_messages WHERE consumer_group = $1 AND subject = $2",
                self.group,
                subject,
            )
        await self._refresh_parked_gauge()
        return int(remaining)
