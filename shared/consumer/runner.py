"""The consumer runner: Kafka in, effects in Postgres, exactly once.

Delivery is at least once; effects are applied once because each batch is handled in
ONE Postgres transaction that also stores the consumed offsets and the handled event ids.
On partition assignment the consumer seeks to the offsets stored in Postgres, not to
Kafka's committed ones (those are written too, but only so that tools can show lag).

Failures, by kind:
- transient (database or broker unreachable, a concurrency conflict): the batch is rolled
  back, the consumer seeks back to its first offsets and retries with backoff, skipping nothing;
- a message that cannot be decoded or validated (bad or missing CloudEvents headers, unknown
  type, key other than the subject, schema, NUL, not UTF-8, not JSON, tombstone, too large):
  a dead letter, copied to ``<topic>.dlq`` and recorded in ``dead_letters`` (see
  ``dead_letters``); the offset moves on even when the copy cannot be published;
- the handler raised on a valid event (a PostgreSQL data error included): that event is
  parked with the error, and every later event of the same shipment is parked behind it
  (order kept) while other shipments go on. ``retry_parked`` replays them;
- anything else that makes a whole batch fail for good: its messages are handled one by one,
  and the one that still fails is a dead letter. No message blocks its partition.

The loop itself is supervised by the runtime (``shared.resilience.Supervisor``).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shared.consumer import dead_letters, parking
from shared.consumer.dead_letters import DeadLetter, DeadLetterRow, clean_text
from shared.consumer.parking import ParkedMessage
from shared.contracts.base import EventRegistry, JsonDict, registry
from shared.db import Conn
from shared.envelope import Envelope, UndecodableMessage, UnknownTypeMessage, from_kafka
from shared.eventstore import ConcurrencyError
from shared.observability import CONSUMED, CONSUMER_LAG, correlation_id
from shared.resilience import Backoff, Outage

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

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


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
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        group_instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
    ) -> None:
        self.group = group
        self.topics = list(topics)
        self.bootstrap_servers = bootstrap_servers
        self.pool = pool
        self.handler = handler
        self.types = types
        self.max_records = max_records
        self.commit_to_kafka = commit_to_kafka
        self.max_message_bytes = max_message_bytes
        self.group_instance_id = group_instance_id  # static membership: a restart rejoins at once
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.consumer: AIOKafkaConsumer | None = None
        self.dlq: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()  # set once partitions are assigned and positioned
        self.batch_lock = asyncio.Lock()  # a batch and a rebalance never overlap
        # The next offset to handle per partition, from Postgres; records that do not follow
        # on from it are not handled (see _in_sequence).
        self._next: dict[TopicPartition, int] = {}
        self._reseeked: dict[TopicPartition, int] = {}
        self._broker = Outage(log, f"consumer {group}: broker")
        self._database = Outage(log, f"consumer {group}: database")

    # -- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        """Consume until cancelled."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group,
            group_instance_id=self.group_instance_id,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=max(self.max_message_bytes * 2, 1024 * 1024),
        )
        self.dlq = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, acks="all", request_timeout_ms=10_000
        )
        self._next.clear()
        self._reseeked.clear()
        try:
            await self._start_with_backoff()
            self.consumer.subscribe(self.topics, listener=_SeekToStoredOffsets(self))
            await self._refresh_gauges()
            while True:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
                if batch:
                    await self.process_batch(batch)
                self._observe_lag()
        finally:
            self.ready.clear()
            await self.consumer.stop()
            await self.dlq.stop()

    async def _start_with_backoff(self) -> None:
        assert self.consumer is not None and self.dlq is not None
        backoff = Backoff()
        while True:
            try:
                await self.consumer.start()
                await self.dlq.start()
                self._broker.recovered()
                return
            except KafkaError as error:
                self._broker.failed(error)
                await backoff.wait()

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
        messages = [m for records in batch.values() for m in records]
        envelopes, dead = self._decode(messages)
        await self._publish_dead_letters(dead)
        try:
            await self._handle_retrying(envelopes, dead, batch)
        except Exception:  # not transient: some message cannot even be parked
            log.exception("consumer %s: a batch failed for good; one message at a time", self.group)
            await self._one_by_one(batch, envelopes, dead)

    async def _handle_retrying(
        self,
        envelopes: Sequence[Envelope],
        dead: Sequence[DeadLetter],
        batch: dict[TopicPartition, list[Any]],
    ) -> None:
        backoff = Backoff(initial=0.2)
        while True:
            try:
                await self.handle_batch(envelopes, batch, dead)
                self._database.recovered()
                return
            except TRANSIENT_ERRORS as error:
                self._database.failed(error)
                CONSUMED.labels(self.group, "retried").inc()
                await backoff.wait()

    async def _one_by_one(
        self,
        batch: dict[TopicPartition, list[Any]],
        envelopes: Sequence[Envelope],
        dead: Sequence[DeadLetter],
    ) -> None:
        """Each message in its own transaction; one that still fails is a dead letter."""
        by_offset = {(e.topic, e.partition, e.offset): e for e in envelopes}
        dead_by_offset = {(d.message.topic, d.message.partition, d.message.offset): d for d in dead}
        for tp, records in batch.items():
            for message in records:
                where = (message.topic, message.partition, message.offset)
                one = {tp: [message]}
                envelope = by_offset.get(where)
                letter = dead_by_offset.get(where)
                try:
                    await self._handle_retrying(
                        [envelope] if envelope else [], [letter] if letter else [], one
                    )
                except Exception as error:
                    failed = DeadLetter(
                        message, f"cannot be stored: {type(error).__name__}: {error}"
                    )
                    await self._publish_dead_letters([failed])
                    await self._handle_retrying([], [failed], one)

    async def handle_batch(
        self,
        envelopes: Sequence[Envelope],
        batch: dict[TopicPartition, list[Any]],
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        """Handle one batch in one Postgres transaction, with the offsets it consumed."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
                _lock_keys(self.group, [e.subject for e in envelopes]),
            )
            parked = await parking.parked_subjects(conn, self.group)
            done = await self._processed_among(conn, [e.id for e in envelopes])
            for envelope in envelopes:
                await self._handle_one(conn, envelope, parked, done)
            await dead_letters.record(conn, self.group, dead)
            await self._store_offsets(conn, batch)
        self._next.update({tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs})
        await self._commit_to_kafka(batch)
        if parked or dead:
            await self._refresh_gauges()

    # -- decoding and dead letters ---------------------------------------------------

    def _decode(self, messages: Sequence[Any]) -> tuple[list[Envelope], list[DeadLetter]]:
        envelopes: list[Envelope] = []
        dead: list[DeadLetter] = []
        for message in messages:
            try:
                envelopes.append(self.decode(message))
            except UndecodableMessage as error:
                dead.append(DeadLetter(message, str(error)))
        return envelopes, dead

    def decode(self, message: Any) -> Envelope:
        """The message as an event of ours, or UndecodableMessage saying why not."""
        size = len(message.value or b"") + sum(
            len(k) + len(v or b"") for k, v in message.headers or ()
        )
        if size > self.max_message_bytes:
            raise UndecodableMessage(f"{size} bytes, over the limit of {self.max_message_bytes}")
        try:
            envelope = from_kafka(message.headers, message.value, self.types, key=message.key)
        except UnknownTypeMessage:
            CONSUMED.labels(self.group, "unknown_type").inc()
            raise
        return replace(
            envelope,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            raw_value=message.value,
            raw_headers=list(message.headers or ()),
        )

    async def _publish_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        if dead and self.dlq is not None:
            await dead_letters.publish_copies(self.dlq, self.group, dead)
        elif dead:  # no producer (a test driving process_batch directly): the table only
            for letter in dead:
                letter.dlq_error = "no dead-letter producer"

    # -- handling ------------------------------------------------------------------

    async def _handle_one(
        self, conn: Conn, envelope: Envelope, parked: set[str], done: set[UUID]
    ) -> None:
        token = correlation_id.set(envelope.correlation_id)
        try:
            if envelope.subject in parked:
                await parking.park(
                    conn, self.group, envelope, "waiting behind an earlier parked event"
                )
            elif envelope.id in done:
                CONSUMED.labels(self.group, "duplicate").inc()
            elif error := await self._apply(conn, envelope):
                await parking.park(conn, self.group, envelope, error)
                parked.add(envelope.subject)
            else:
                done.add(envelope.id)
                CONSUMED.labels(self.group, "handled").inc()
        finally:
            correlation_id.reset(token)

    async def _apply(self, conn: Conn, envelope: Envelope) -> str | None:
        """Run the handler in a savepoint and record the event as processed; returns the
        error of a failed handler (its effects are undone), re-raises transient errors.
        A PostgreSQL data error (a value the schema cannot hold) is such a failure."""
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
                clean_text(envelope.subject, 100),
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

    # -- offsets -------------------------------------------------------------------

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
            log.debug("consumer %s: Kafka commit skipped: %r", self.group, error)

    def _observe_lag(self) -> None:
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            position = self._next.get(tp)
            if end is not None and position is not None:
                CONSUMER_LAG.labels(self.group, tp.topic, tp.partition).set(max(end - position, 0))

    # -- admin: parked events and dead letters ------------------------------------------

    async def _refresh_gauges(self) -> None:
        await parking.refresh_gauge(self.pool, self.group)
        await dead_letters.refresh_gauge(self.pool, self.group)

    async def parked(self, after: int = 0, limit: int = 1000) -> list[ParkedMessage]:
        return await parking.listing(self.pool, self.group, after, limit)

    async def dead_letters(self, after: int = 0, limit: int = 50) -> list[DeadLetterRow]:
        return await dead_letters.listing(self.pool, self.group, after, limit)

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
                envelope = parking.envelope_of(row, self.types)
                done = await self._processed_among(conn, [envelope.id])
                if not done and (error := await self._apply(conn, envelope)):
                    await conn.execute(
                        "UPDATE parked_messages SET error = $2, attempts = attempts + 1"
                        " WHERE id = $1",
                        row["id"],
                        clean_text(error),
                    )
                    break
                await conn.execute("DELETE FROM parked_messages WHERE id = $1", row["id"])
            remaining = await conn.fetchval(
                "SELECT count(*) FROM parked_messages WHERE consumer_group = $1 AND subject = $2",
                self.group,
                subject,
            )
        await self._refresh_gauges()
        return int(remaining)

    async def retry_dead_letter(self, dead_letter_id: int) -> str | None:
        """Decode and handle a dead letter again (e.g. once its type is known); returns None
        when it is resolved (handled or parked behind its shipment), else why it still fails.
        Raises LookupError for an id that is not an open dead letter of this group."""
        row = await self.pool.fetchrow(
            "SELECT * FROM dead_letters WHERE id = $1 AND consumer_group = $2"
            " AND resolved_at IS NULL",
            dead_letter_id,
            self.group,
        )
        if row is None:
            raise LookupError(dead_letter_id)
        message = _StoredMessage.of(row)
        try:
            envelope = self.decode(message)
        except UndecodableMessage as error:
            await self.pool.execute(
                "UPDATE dead_letters SET reason = $2, attempts = attempts + 1 WHERE id = $1",
                dead_letter_id,
                clean_text(str(error)),
            )
            return str(error)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)", _lock_keys(self.group, [envelope.subject])[0]
            )
            parked = await parking.parked_subjects(conn, self.group)
            done = await self._processed_among(conn, [envelope.id])
            await self._handle_one(conn, envelope, parked, done)
            await conn.execute(
                "UPDATE dead_letters SET resolved_at = now(), attempts = attempts + 1"
                " WHERE id = $1",
                dead_letter_id,
            )
        await self._refresh_gauges()
        return None


class _StoredMessage:
    """A dead letter read back from its table, shaped like a consumed record."""

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers

    @classmethod
    def of(cls, row: Any) -> _StoredMessage:
        return cls(
            row["topic"],
            row["partition"],
            row["kafka_offset"],
            row["msg_key"],
            row["msg_value"],
            dead_letters.headers_from_arrays(row["header_keys"], row["header_values"]),
        )
