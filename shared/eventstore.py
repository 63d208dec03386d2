"""The event store on asyncpg: load a stream, append with an expected version, read in order.

Gap-safe order without a table lock. Each event records the id of the transaction that
wrote it (``transaction_id``, an ``xid8``, from a column DEFAULT). Readers go through the
store in (transaction_id, position) order and only as far as the oldest transaction still
running (``pg_snapshot_xmin``): every transaction below that one has ended, so nothing can
ever appear before a reader's position, and a reader that moves on never skips an event
that commits late. Appends do not wait for each other; the cost is that one long
transaction anywhere in the PostgreSQL cluster holds readers back until it ends.

A reader's checkpoint is the position of the last event it read: a position names one
event, whose transaction id is looked up, so (transaction_id, position) is the real key.

Per-stream order holds as well: an append only goes after its expected version when that
event's transaction is not younger than its own (else a ConcurrencyError retries the
command in a new transaction, which is younger). Two appends with the same expected version
clash on ``UNIQUE (stream_id, stream_version)``: the loser gets a ConcurrencyError.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.contracts.base import DomainEvent, EventRegistry, JsonDict, registry
from shared.contracts.limits import DEFAULT_MAX_EVENT_BYTES
from shared.db import Conn, to_json
from shared.observability import CONCURRENCY_CONFLICTS, EVENTS_APPENDED

NOTIFY_CHANNEL = "aidport_events"
"""Wakes the active relay (admin requests); appends do not notify, the relay polls."""
STREAM_VERSION_CONSTRAINT = "events_stream_id_stream_version_key"


class ConcurrencyError(Exception):
    """Another command appended to the stream since it was loaded."""

    def __init__(self, stream_id: str, expected: int | None = None, actual: int | None = None):
        found = "another command appended to it first" if actual is None else f"found {actual}"
        super().__init__(f"stream {stream_id}: expected version {expected}, {found}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventTooLarge(Exception):
    """An event bigger than the configured limit: it could not be published, so it is not
    stored; the command that made it is refused."""

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        super().__init__(
            f"the {event_type.split('.')[2]} event would be {size} bytes, over the limit of "
            f"{limit} bytes; send fewer lines or lots"
        )
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class NewEvent:
    event: DomainEvent
    metadata: JsonDict = field(default_factory=dict)
    event_id: UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    data: JsonDict
    metadata: JsonDict
    recorded_at: datetime
    transaction_id: int = 0  # of the transaction that wrote it: readers go in this order

    def decode(self, types: EventRegistry = registry) -> DomainEvent:
        return types.decode(self.event_type, self.data)

    @property
    def subject(self) -> str:
        """The shipment this event is about: the Kafka key."""
        return str(self.data.get("shipment_id") or self.stream_id)


@contextlib.contextmanager
def appending_conflicts(
    stream_id: str | None = None, expected: int | None = None
) -> Iterator[None]:
    """Turns a clash on ``UNIQUE (stream_id, stream_version)`` into a ConcurrencyError.

    For any INSERT INTO events: another transaction appended the same version first.
    """
    try:
        yield
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name != STREAM_VERSION_CONSTRAINT:
            raise
        raise ConcurrencyError(stream_id or _stream_in(error), expected) from error


def _stream_in(error: asyncpg.UniqueViolationError) -> str:
    # detail: Key (stream_id, stream_version)=(<stream>, <version>) already exists.
    found = re.search(r"=\((.*), \d+\)", error.detail or "")
    return found.group(1) if found else "?"


def published_size(text: str) -> int:
    """The bytes of this JSON as the relay publishes it: ``json.dumps`` escapes each
    non-ASCII character as \\uXXXX (six bytes; two of them beyond the BMP)."""
    if text.isascii():
        return len(text)
    ascii_chars = len(text.encode("ascii", "ignore"))
    utf16_units = len(text.encode("utf-16-le")) // 2
    return ascii_chars + 6 * (utf16_units - ascii_chars)


def _record(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        data=row["data"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
        transaction_id=row["transaction_id"],
    )


_COLUMNS = (
    "position, stream_id, stream_version, event_id, event_type, data, metadata, recorded_at,"
    " transaction_id"
)

# One statement: checks the expected version (it must exist, written by a transaction not
# younger than this one), inserts the events in order, and returns what the table assigned.
# A clash with a concurrent append of the same version fails on the unique constraint.
_APPEND = """
INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata)
SELECT $1, $2 + n, id, t, d::jsonb, m::jsonb
FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS e(id, t, d, m, n)
WHERE $2 = 0 OR EXISTS (
    SELECT FROM events WHERE stream_id = $1 AND stream_version = $2
                         AND transaction_id <= pg_current_xact_id())
ORDER BY n
RETURNING position, stream_version, recorded_at, transaction_id
"""

# The first events of a stream that has none yet: nothing is inserted when it has. A
# concurrent first append fails on the unique constraint.
_START = """
INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata)
SELECT $1, $2 + n, id, t, d::jsonb, m::jsonb
FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS e(id, t, d, m, n)
WHERE NOT EXISTS (SELECT FROM events WHERE stream_id = $1)
ORDER BY n
RETURNING position, stream_version, recorded_at, transaction_id
"""

# The events after the one at position $1 (0: from the start), in transaction order, below
# the oldest running transaction. A position that names no event reads nothing.
_READ_AFTER = f"""
SELECT {_COLUMNS} FROM events
WHERE (transaction_id, position) > (
        CASE WHEN $1 = 0 THEN '0'::xid8
             ELSE (SELECT transaction_id FROM events WHERE position = $1) END, $1)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, position
LIMIT $2
"""

_PENDING = """
SELECT coalesce((SELECT max(position) FROM events), 0) - $1 AS backlog,
       (SELECT recorded_at FROM events
        WHERE (transaction_id, position) > (
                CASE WHEN $1 = 0 THEN '0'::xid8
                     ELSE (SELECT transaction_id FROM events WHERE position = $1) END, $1)
        ORDER BY transaction_id, position LIMIT 1) AS oldest
"""

Executor = Conn | asyncpg.Pool


class EventStore:
    def __init__(self, service: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.service = service
        self.max_event_bytes = max_event_bytes

    async def load(self, db: Executor, stream_id: str) -> list[RecordedEvent]:
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version",
            stream_id,
        )
        return [_record(r) for r in rows]

    async def load_many(
        self, db: Executor, stream_ids: Sequence[str]
    ) -> dict[str, list[RecordedEvent]]:
        """The events of each of ``stream_ids`` (empty for a new stream), in ONE query."""
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = ANY($1::text[])"
            " ORDER BY stream_id, stream_version",
            list(stream_ids),
        )
        streams: dict[str, list[RecordedEvent]] = {s: [] for s in stream_ids}
        for row in rows:
            streams[row["stream_id"]].append(_record(row))
        return streams

    async def append(
        self,
        conn: Conn,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
    ) -> list[RecordedEvent]:
        """Append inside the caller's transaction, in one statement; raises ConcurrencyError
        when the stream is not at ``expected_version`` (the transaction is then spoilt)."""
        recorded = await self._insert(conn, _APPEND, stream_id, expected_version, events)
        if recorded is None:  # the expected version is missing, or younger than this transaction
            CONCURRENCY_CONFLICTS.labels(self.service).inc()
            raise ConcurrencyError(stream_id, expected_version)
        return recorded

    async def start(
        self, conn: Conn, stream_id: str, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | None:
        """The first events of a new stream, appended without loading it first; None when
        the stream exists (nothing appended, the transaction still usable). A concurrent
        start of the same stream raises ConcurrencyError."""
        return await self._insert(conn, _START, stream_id, 0, events)

    async def _insert(
        self, conn: Conn, sql: str, stream_id: str, after_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | None:
        if not conn.is_in_transaction():
            raise RuntimeError("append must run inside a transaction")
        if not events:
            return []
        data = [e.event.to_data() for e in events]
        texts = [to_json(d) for d in data]
        metadata = [to_json(e.metadata) for e in events]
        for event, text, meta in zip(events, texts, metadata, strict=True):
            self._check_size(event.event.event_type, published_size(text) + published_size(meta))
        try:
            with appending_conflicts(stream_id, after_version):
                rows = await conn.fetch(
                    sql,
                    stream_id,
                    after_version,
                    [e.event_id for e in events],
                    [e.event.event_type for e in events],
                    texts,
                    metadata,
                )
        except ConcurrencyError:
            CONCURRENCY_CONFLICTS.labels(self.service).inc()
            raise
        if not rows:
            return None
        for e in events:
            EVENTS_APPENDED.labels(self.service, e.event.event_type).inc()
        return [
            RecordedEvent(
                position=row["position"],
                stream_id=stream_id,
                stream_version=row["stream_version"],
                event_id=e.event_id,
                event_type=e.event.event_type,
                data=d,
                metadata=e.metadata,
                recorded_at=row["recorded_at"],
                transaction_id=row["transaction_id"],
            )
            for e, d, row in zip(
                events, data, sorted(rows, key=lambda r: r["stream_version"]), strict=True
            )
        ]

    def _check_size(self, event_type: str, size: int) -> None:
        if size > self.max_event_bytes:
            raise EventTooLarge(event_type, size, self.max_event_bytes)

    async def read_all(self, db: Executor, after: int = 0, limit: int = 500) -> list[RecordedEvent]:
        """The next events in the store's global order after the event at position ``after``
        (0: from the start); only committed ones, and none can later appear before them.

        ``after`` must be 0 or the position of an event read from this store. Inside a
        transaction that has written, only events of older transactions are returned.
        """
        rows = await db.fetch(_READ_AFTER, after, limit)
        return [_record(r) for r in rows]

    async def read_streams(
        self, db: Executor, after: tuple[str, int] | None, limit: int
    ) -> list[RecordedEvent]:
        """The next events stream by stream (by stream id, then version) after the event
        ``after`` (stream id, version; None: from the start): what a rebuild of per-stream
        projections reads, each stream's events one after the other."""
        stream_id, version = after or ("", 0)
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE (stream_id, stream_version) > ($1, $2)"
            " ORDER BY stream_id, stream_version LIMIT $3",
            stream_id,
            version,
            limit,
        )
        return [_record(r) for r in rows]

    async def event_at(self, db: Executor, position: int) -> RecordedEvent | None:
        row = await db.fetchrow(f"SELECT {_COLUMNS} FROM events WHERE position = $1", position)
        return None if row is None else _record(row)

    async def pending(self, db: Executor, after: int) -> tuple[int, datetime | None]:
        """Roughly how many events follow the one at ``after`` (by position: index lookups
        only, a count would rescan a long backlog), and when the first of them was recorded."""
        row = await db.fetchrow(_PENDING, after)
        assert row is not None
        return max(int(row["backlog"]), 0), row["oldest"]

    async def head(self, db: Executor) -> int:
        """The position of the last event in the global order (0 when empty): the
        checkpoint of a reader that has read everything committed so far."""
        value: Any = await db.fetchval(
            "SELECT position FROM events ORDER BY transaction_id DESC, position DESC LIMIT 1"
        )
        return int(value or 0)
