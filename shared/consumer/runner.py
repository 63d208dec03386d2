"""The consumer runner: Kafka in, effects in Postgres, exactly once.

Delivery is at least once; effects are applied once because each batch is handled in
ONE Postgres transaction that also stores the consumed offsets and the handled event ids.
The runner holds the loop and the retries; each job has its module: ``sequence`` (fetch
and sequence, the aiokafka#738 guard), ``apply`` (the batch unit of work, parking),
``dead_letters`` and ``offsets`` (store, commit, lag, pruning of processed ids).

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
import time
import zlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from shared.consumer import dead_letters, offsets, parking
from shared.consumer.apply import (
    TRANSIENT_ERRORS,
    Applier,
    Handler,
    Reaction,
    mark_processed,
    processed_among,
)
from shared.consumer.dead_letters import DeadLetter, DeadLetterRow, clean_text
from shared.consumer.parking import ParkedMessage
from shared.consumer.sequence import SeekToStoredOffsets, Sequencer
from shared.contracts.base import EventRegistry, JsonDict, registry
from shared.envelope import Envelope, UndecodableMessage, UnknownTypeMessage, from_kafka
from shared.observability import CONSUMED
from shared.resilience import Backoff, Outage

log = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULT_PROCESSED_RETENTION = timedelta(days=7)
_PRUNE_EVERY = 600.0  # seconds between two prunings of processed_events
_KAFKA_COMMIT_EVERY = 1.0  # seconds between two (informational) commits to Kafka
# Records per batch. Measured catching up 20,000 announcements into customs: 500 and 1,000
# run at the same speed (within noise, ~3,100-3,600 events/s), but a batch of 1,000 holds
# ~21 MB more at its peak than the process at rest, 500 about 12 MB.
DEFAULT_MAX_RECORDS = 500

Batch = dict[TopicPartition, list[Any]]


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


class ConsumerRunner:
    def __init__(
        self,
        *,
        group: str,
        topics: Sequence[str],
        bootstrap_servers: str,
        pool: asyncpg.Pool,
        handler: Handler | Reaction,
        types: EventRegistry = registry,
        max_records: int = DEFAULT_MAX_RECORDS,
        commit_to_kafka: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        group_instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        processed_retention: timedelta = DEFAULT_PROCESSED_RETENTION,
    ) -> None:
        self.group = group
        self.topics = list(topics)
        self.bootstrap_servers = bootstrap_servers
        self.pool = pool
        reaction = handler if isinstance(handler, Reaction) else Reaction(handler)
        self.applier = Applier(group, reaction)
        self.types = types
        self.max_records = max_records
        self.commit_to_kafka = commit_to_kafka
        self.max_message_bytes = max_message_bytes
        self.group_instance_id = group_instance_id  # static membership: a restart rejoins at once
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.processed_retention = processed_retention
        self.consumer: AIOKafkaConsumer | None = None
        self.dlq: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()  # set once partitions are assigned and positioned
        self.batch_lock = asyncio.Lock()  # a batch and a rebalance never overlap
        self.sequencer = Sequencer()
        self.busy_since: float | None = None  # monotonic start of the batch in hand
        self._broker = Outage(log, f"consumer {group}: broker")
        self._database = Outage(log, f"consumer {group}: database")
        self._next_prune = 0.0
        self._kafka_commit_due = 0.0

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
        self.sequencer.clear()
        try:
            await self._start_with_backoff()
            listener = SeekToStoredOffsets(self.batch_lock, self.seek_to_stored_offsets)
            self.consumer.subscribe(self.topics, listener=listener)
            await self._refresh_gauges()
            while True:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
                if batch:
                    await self.process_batch(batch)
                offsets.observe_lag(self.consumer, self.group, self.sequencer.next)
                await self._prune_now_and_then()
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
        stored = await offsets.stored(self.pool, self.group)
        fresh = [tp for tp in assigned if tp not in stored]
        if fresh:  # never consumed by this group: from the first offset the broker still has
            stored |= await self.consumer.beginning_offsets(fresh)
        self.sequencer.positioned(self.consumer, {tp: stored[tp] for tp in assigned})
        self.ready.set()

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + _PRUNE_EVERY
        try:
            pruned = await offsets.prune_processed(self.pool, self.group, self.processed_retention)
            if pruned:
                log.info("consumer %s: pruned %d processed ids", self.group, pruned)
        except TRANSIENT_ERRORS as error:  # next time; the batches report outages
            log.debug("consumer %s: pruning skipped: %r", self.group, error)

    # -- one batch -----------------------------------------------------------------

    async def process_batch(self, batch: Batch) -> None:
        """Decode (dead-lettering the undecodable), then handle; retry transient failures."""
        async with self.batch_lock:
            self.busy_since = time.monotonic()
            try:
                if self.consumer is not None:
                    batch = self.sequencer.in_sequence(self.consumer, batch)
                await self._process_owned(batch)
            finally:
                self.busy_since = None

    def busy_for(self) -> float:
        """Seconds the batch in hand has taken so far (0 between batches)."""
        return 0.0 if self.busy_since is None else time.monotonic() - self.busy_since

    async def _process_owned(self, batch: Batch) -> None:
        messages = [m for records in batch.values() for m in records if not self._passed_over(m)]
        envelopes, dead = self._decode(messages)
        await self._publish_dead_letters(dead)
        try:
            await self._handle_retrying(envelopes, dead, batch)
        except Exception:  # not transient: some message cannot even be parked
            log.exception("consumer %s: a batch failed for good; one message at a time", self.group)
            await self._one_by_one(batch, envelopes, dead)

    async def _handle_retrying(
        self, envelopes: Sequence[Envelope], dead: Sequence[DeadLetter], batch: Batch
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
        self, batch: Batch, envelopes: Sequence[Envelope], dead: Sequence[DeadLetter]
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
        self, envelopes: Sequence[Envelope], batch: Batch, dead: Sequence[DeadLetter] = ()
    ) -> None:
        """Handle one batch in one Postgres transaction, with the offsets it consumed."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
                _lock_keys(self.group, [e.subject for e in envelopes]),
            )
            parked = await parking.parked_subjects(conn, self.group, [e.subject for e in envelopes])
            parked_before = len(parked)
            await self.applier.apply(conn, envelopes, parked)
            await dead_letters.record(conn, self.group, dead)
            await offsets.store(conn, self.group, batch)
        self.sequencer.advanced(offsets.next_offsets(batch))
        await self._commit_to_kafka_now_and_then()
        if parked_before or len(parked) > parked_before or dead:
            await self._refresh_gauges()

    async def _commit_to_kafka_now_and_then(self) -> None:
        """Kafka's offsets only show lag in tools: one commit a second is plenty, and a
        broker round trip per batch would slow a catch-up down."""
        if not self.commit_to_kafka or self.consumer is None:
            return
        if time.monotonic() < self._kafka_commit_due:
            return
        self._kafka_commit_due = time.monotonic() + _KAFKA_COMMIT_EVERY
        owned = self.consumer.assignment()
        positions = {tp: o for tp, o in self.sequencer.next.items() if tp in owned}
        await offsets.commit_to_kafka(self.consumer, self.group, positions)

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

    def _passed_over(self, message: Any) -> bool:
        """A message of a known type that the reaction does not act on: not worth decoding
        (its offset moves on with the batch). Unknown or malformed ones are decoded, and
        dead-lettered with their reason."""
        acts_on = self.applier.reaction.acts_on
        named = next((v for k, v in message.headers or () if k == "ce_type"), None)
        if not acts_on or not named:
            return False
        known = self.types.resolve(named.decode(errors="replace"))
        if known is None or issubclass(known, acts_on):
            return False
        CONSUMED.labels(self.group, "passed_over").inc()
        return True

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
                done = await processed_among(conn, self.group, [envelope.id])
                if not done:
                    if error := await self.applier.run_handler(conn, envelope):
                        await conn.execute(
                            "UPDATE parked_messages SET error = $2, attempts = attempts + 1"
                            " WHERE id = $1",
                            row["id"],
                            clean_text(error),
                        )
                        break
                    await mark_processed(conn, self.group, [envelope.id])
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
            parked = await parking.parked_subjects(conn, self.group, [envelope.subject])
            await self.applier.apply(conn, [envelope], parked)
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
