"""The outbox relay: publishes the service's events table to its Kafka topic, in order.

One relay is active per service: it holds a session-level Postgres advisory lock on its
own connection, so a second replica waits until the first one dies. It publishes a batch
with an idempotent producer, waits for the broker's acknowledgements, and only then moves
its checkpoint. A crash in between re-publishes the batch; consumers deduplicate by event id.
It reads the store in its gap-safe global order (``EventStore.read_all``); its checkpoint is
the position of the last event it published. Appends do not notify (a NOTIFY takes a lock
that serialises every commit of the database): the relay polls, at once again after a batch,
and with a wait that doubles from ``min_wait`` to ``poll_interval`` while nothing comes.
An admin request (retry, skip) wakes it with a NOTIFY.

An event the broker refuses for good (too large, an invalid record) does not stop it: the
event is quarantined (``relay_quarantine``), the later events of its stream are held behind
it (recorded, not published, so none goes out of order), and the checkpoint moves on for
every other stream. An admin asks for a retry (e.g. after raising the broker's limit) or a
skip; the active relay then publishes the stream's set-aside events in position order.
A record too large for one producer batch is sent alone, after the earlier sends are
acknowledged, so that a refusal cannot let a later event of its stream overtake it. After a
refusal the idempotent producer is replaced: the refused record used up a sequence number
of its partition, and the broker would refuse every later record there as out of order.
Transient broker and database errors are retried with backoff, skipping nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.partitioner import DefaultPartitioner, murmur2

from shared.db import Conn, connect
from shared.envelope import KafkaRecord, to_kafka
from shared.eventstore import NOTIFY_CHANNEL, EventStore, RecordedEvent
from shared.observability import (
    RELAY_ACTIVE,
    RELAY_BACKLOG,
    RELAY_OLDEST_AGE,
    RELAY_PUBLISHED,
    RELAY_QUARANTINED,
)
from shared.resilience import Backoff, Outage

log = logging.getLogger(__name__)

# The broker (or the producer) refuses this record and will refuse it again: quarantine it.
# Everything else is transient and retried.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
)
ALONE_BYTES = 16 * 1024  # aiokafka's batch size: a larger record goes in its own send
HELD = "held behind an earlier quarantined event of its stream"


@dataclass(frozen=True)
class SetAside:
    """An event not published: refused (quarantined) or waiting behind one (held)."""

    event: RecordedEvent
    state: str
    reason: str


ProducerFactory = Callable[[], AIOKafkaProducer]


Outgoing = tuple[RecordedEvent, KafkaRecord]  # an event and its record, encoded once


def _next_wave(queue: list[Outgoing]) -> tuple[list[Outgoing], list[Outgoing]]:
    """The next events to send together: a run of small ones, or one large one alone."""
    for index, (_, record) in enumerate(queue):
        if len(record.value) > ALONE_BYTES:
            return (queue[:index], queue[index:]) if index else (queue[:1], queue[1:])
    return queue, []


class KeyPartitioner:
    """aiokafka's default partitioner (the Java client's murmur2 of the key), each key's hash
    remembered: a round's 35 events share their consignment's key, and murmur2 in pure
    Python took ~5% of allocation's CPU. A key keeps its partition, as with the default."""

    def __init__(self, remembered: int = 10_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._remembered = remembered

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(DefaultPartitioner()(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._remembered:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


def idempotent_producer(bootstrap_servers: str) -> ProducerFactory:
    def make() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            partitioner=KeyPartitioner(),
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
        poll_interval: float = 0.1,
        min_wait: float = 0.002,
        housekeeping_interval: float = 1.0,
        lock_poll_interval: float = 1.0,
        after_publish: Callable[[list[RecordedEvent]], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.dsn = dsn
        self.topic = topic
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.poll_interval = poll_interval  # the longest wait between two reads
        self.min_wait = min_wait  # the first wait after a read found nothing
        self.housekeeping_interval = housekeeping_interval  # admin requests, backlog gauges
        self.lock_poll_interval = lock_poll_interval  # a standby's tries for the lock
        self.after_publish = after_publish  # a test hook: runs between publish and checkpoint
        self.store = EventStore(service)
        self.lock_key = zlib.crc32(f"aidport-relay:{service}".encode())
        self._wake = asyncio.Event()
        self.active = False  # this replica holds the lock and publishes
        self._producer: AIOKafkaProducer | None = None
        self.outage = Outage(log, f"relay {service}")

    async def run(self) -> None:
        """Run until cancelled; reconnects with backoff after database or broker errors."""
        backoff = Backoff()
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not isinstance(error, (OSError, asyncpg.PostgresError, KafkaError)):
                    log.exception("relay %s failed", self.service)
                self.outage.failed(error)
                RELAY_ACTIVE.labels(self.service).set(0)
                await backoff.wait()
            else:
                backoff.reset()

    async def _run_once(self) -> None:
        conn = await connect(self.dsn)
        try:
            await self._acquire_lock(conn)
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
            self._producer = self.producer_factory()
            await self._producer.start()
            self.outage.recovered()
            self.active = True
            RELAY_ACTIVE.labels(self.service).set(1)
            try:
                await self._publish_forever(conn)
            finally:
                await self._producer.stop()
        finally:
            self.active = False
            RELAY_ACTIVE.labels(self.service).set(0)
            with contextlib.suppress(Exception):
                await conn.close()

    async def _acquire_lock(self, conn: Conn) -> None:
        # Polling, not pg_advisory_lock: a blocked call could not notice a dead connection.
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):  # noqa: ASYNC110
            await asyncio.sleep(self.lock_poll_interval)
        log.info("relay %s is the active publisher", self.service)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _publish_forever(self, conn: Conn) -> None:
        checkpoint = await self._checkpoint(conn)
        await self._observe_quarantine(conn)
        idle = Backoff(initial=self.min_wait, maximum=self.poll_interval)
        housekeeping_due = 0.0
        while True:
            if self._wake.is_set() or time.monotonic() >= housekeeping_due:
                self._wake.clear()
                await self._resolve_requests(conn)
                await self._observe_backlog(conn, checkpoint)
                housekeeping_due = time.monotonic() + self.housekeeping_interval
            batch = await self.store.read_all(conn, after=checkpoint, limit=self.batch_size)
            if not batch:
                await self._sleep_until_woken(idle.next_delay())
                continue
            idle.reset()
            set_aside = await self._publish(batch, await self._blocked_streams(conn, batch))
            if self.after_publish is not None:
                await self.after_publish(batch)
            checkpoint = batch[-1].position
            if set_aside:
                async with conn.transaction():
                    await self._set_aside(conn, set_aside)
                    await self._save_checkpoint(conn, checkpoint)
                await self._observe_quarantine(conn)
            else:
                await self._save_checkpoint(conn, checkpoint)
            RELAY_PUBLISHED.labels(self.service).inc(len(batch) - len(set_aside))

    async def _publish(self, batch: list[RecordedEvent], blocked: set[str]) -> list[SetAside]:
        """Publish what is not blocked, wave by wave; returns the events set aside."""
        set_aside: list[SetAside] = []
        source = f"aidport/{self.service}"
        queue = [(event, to_kafka(event, source)) for event in batch]
        while queue:
            wave, queue = _next_wave(queue)
            resend = await self._send_wave(wave, blocked, set_aside)
            queue = resend + queue
        set_aside.sort(key=lambda s: s.event.position)
        return set_aside

    async def _send_wave(
        self, wave: list[Outgoing], blocked: set[str], set_aside: list[SetAside]
    ) -> list[Outgoing]:
        """Send a wave and wait for every acknowledgement (before the checkpoint may move).
        Returns the events to send again: refused as out of order after a refusal."""
        assert self._producer is not None
        pending: list[tuple[Outgoing, asyncio.Future[Any]]] = []
        for event, record in wave:
            if event.stream_id in blocked:
                set_aside.append(SetAside(event, "held", HELD))
                continue
            try:
                ack = await self._producer.send(
                    self.topic, value=record.value, key=record.key, headers=record.headers
                )
            except PERMANENT_ERRORS as error:  # refused by the producer itself
                self._refused(event, error, blocked, set_aside)
                continue
            pending.append(((event, record), ack))
        results = await asyncio.gather(*(ack for _, ack in pending), return_exceptions=True)
        refused = False
        resend: list[Outgoing] = []
        for (outgoing, _), result in zip(pending, results, strict=True):
            if isinstance(result, PERMANENT_ERRORS):
                self._refused(outgoing[0], result, blocked, set_aside)
                refused = True
            elif refused and isinstance(result, OutOfOrderSequenceNumber):
                resend.append(outgoing)  # behind the refused record in its partition
            elif isinstance(result, BaseException):
                raise result  # transient: the batch is published again after a reconnect
        if refused:
            await self._replace_producer()
        return resend

    async def _replace_producer(self) -> None:
        assert self._producer is not None
        with contextlib.suppress(Exception):
            await self._producer.stop()
        self._producer = self.producer_factory()
        await self._producer.start()

    def _refused(
        self,
        event: RecordedEvent,
        error: BaseException,
        blocked: set[str],
        set_aside: list[SetAside],
    ) -> None:
        reason = f"{type(error).__name__}: {error}"[:1000]
        state = "held" if event.stream_id in blocked else "quarantined"
        log.error(
            "relay %s: the broker refused event %s (position %d, stream %s) for good;"
            " its stream is held back: %s",
            self.service,
            event.event_id,
            event.position,
            event.stream_id,
            reason,
        )
        blocked.add(event.stream_id)
        set_aside.append(SetAside(event, state, reason if state == "quarantined" else HELD))

    # -- quarantine ----------------------------------------------------------------

    async def _blocked_streams(self, conn: Conn, batch: list[RecordedEvent]) -> set[str]:
        """The batch's streams held behind a quarantined event (only those: the open
        quarantine may be long, and it is read once per batch)."""
        rows = await conn.fetch(
            "SELECT DISTINCT stream_id FROM relay_quarantine"
            " WHERE relay = $1 AND stream_id = ANY($2::text[]) AND resolved_at IS NULL",
            self.service,
            list({e.stream_id for e in batch}),
        )
        return {r["stream_id"] for r in rows}

    async def _set_aside(self, conn: Conn, set_aside: list[SetAside]) -> None:
        await conn.executemany(
            """INSERT INTO relay_quarantine (relay, position, stream_id, event_id, event_type,
                   state, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (relay, position) DO NOTHING""",
            [
                (
                    self.service,
                    s.event.position,
                    s.event.stream_id,
                    s.event.event_id,
                    s.event.event_type,
                    s.state,
                    s.reason,
                )
                for s in set_aside
            ],
        )

    async def _resolve_requests(self, conn: Conn) -> None:
        """Publish (or skip) the set-aside events of each stream an admin asked to retry."""
        streams = await conn.fetch(
            "SELECT DISTINCT stream_id FROM relay_quarantine WHERE relay = $1"
            " AND resolved_at IS NULL AND requested IS NOT NULL",
            self.service,
        )
        for row in streams:
            await self._resolve_stream(conn, row["stream_id"])
        if streams:
            await self._observe_quarantine(conn)

    async def _resolve_stream(self, conn: Conn, stream: str) -> None:
        assert self._producer is not None
        entries = await conn.fetch(
            "SELECT id, position, state, requested FROM relay_quarantine"
            " WHERE relay = $1 AND stream_id = $2 AND resolved_at IS NULL ORDER BY position",
            self.service,
            stream,
        )
        for index, entry in enumerate(entries):
            if entry["state"] == "quarantined" and entry["requested"] is None:
                return  # refused again further on: waits for its own request
            if index == 0 and entry["requested"] is None:
                return
            if entry["requested"] == "skip":
                await self._resolve(conn, entry["id"], "skipped")
                continue
            event = await self.store.event_at(conn, entry["position"])
            assert event is not None  # events are never deleted
            record = to_kafka(event, source=f"aidport/{self.service}")
            try:
                await self._producer.send_and_wait(
                    self.topic, value=record.value, key=record.key, headers=record.headers
                )
            except PERMANENT_ERRORS as error:
                await self._replace_producer()
                await conn.execute(
                    "UPDATE relay_quarantine SET state = 'quarantined', reason = $2,"
                    " requested = NULL, attempts = attempts + 1, since = now() WHERE id = $1",
                    entry["id"],
                    f"{type(error).__name__}: {error}"[:1000],
                )
                log.error("relay %s: event at %d refused again", self.service, event.position)
                return
            await self._resolve(conn, entry["id"], "published")
            RELAY_PUBLISHED.labels(self.service).inc()

    async def _resolve(self, conn: Conn, entry_id: int, resolution: str) -> None:
        await conn.execute(
            "UPDATE relay_quarantine SET resolved_at = now(), resolution = $2 WHERE id = $1",
            entry_id,
            resolution,
        )

    async def _observe_quarantine(self, conn: Conn) -> None:
        rows = await conn.fetch(
            "SELECT state, count(*) AS n FROM relay_quarantine"
            " WHERE relay = $1 AND resolved_at IS NULL GROUP BY state",
            self.service,
        )
        counts = {r["state"]: r["n"] for r in rows}
        for state in ("quarantined", "held"):
            RELAY_QUARANTINED.labels(self.service, state).set(counts.get(state, 0))

    async def _sleep_until_woken(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

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
        backlog, oldest = await self.store.pending(conn, after=checkpoint)
        RELAY_BACKLOG.labels(self.service).set(backlog)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        RELAY_OLDEST_AGE.labels(self.service).set(age)
