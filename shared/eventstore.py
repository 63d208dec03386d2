"""The event store on asyncpg: load a stream, append with an expected version, read by position.

Gap-safe ordering: an append takes ``LOCK TABLE events IN EXCLUSIVE MODE`` inside its
transaction (as the ``eventsourcing`` library does), so appends commit one after the
other in position order. A reader tailing by position therefore never sees position
N+1 before N has committed, and never skips an event. Readers are not blocked: plain
SELECTs take ACCESS SHARE, which EXCLUSIVE allows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.contracts.base import DomainEvent, EventRegistry, JsonDict, registry
from shared.contracts.limits import DEFAULT_MAX_EVENT_BYTES
from shared.db import Conn
from shared.observability import CONCURRENCY_CONFLICTS, EVENTS_APPENDED

NOTIFY_CHANNEL = "aidport_events"


class ConcurrencyError(Exception):
    """Another command appended to the stream since it was loaded."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")
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

    def decode(self, types: EventRegistry = registry) -> DomainEvent:
        return types.decode(self.event_type, self.data)

    @property
    def subject(self) -> str:
        """The shipment this event is about: the Kafka key."""
        return str(self.data.get("shipment_id") or self.stream_id)


def _record(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        data=json.loads(row["data"]),
        metadata=json.loads(row["metadata"]),
        recorded_at=row["recorded_at"],
    )


_COLUMNS = "position, stream_id, stream_version, event_id, event_type, data, metadata, recorded_at"
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

    async def append(
        self,
        conn: Conn,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
    ) -> list[RecordedEvent]:
        """Append inside the caller's transaction; raises ConcurrencyError on a clash."""
        if not conn.is_in_transaction():
            raise RuntimeError("append must run inside a transaction")
        if not events:
            return []
        data = [json.dumps(e.event.to_data()) for e in events]
        metadata = [json.dumps(e.metadata) for e in events]
        for event, encoded, meta in zip(events, data, metadata, strict=True):
            self._check_size(event.event.event_type, len(encoded) + len(meta))
        await conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        actual = await conn.fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", stream_id
        )
        if actual != expected_version:
            CONCURRENCY_CONFLICTS.labels(self.service).inc()
            raise ConcurrencyError(stream_id, expected_version, actual)
        rows = await conn.fetch(
            f"""INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata)
                SELECT $1, $2 + n, id, t, d::jsonb, m::jsonb
                FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[])
                     WITH ORDINALITY AS e(id, t, d, m, n)
                ORDER BY n
                RETURNING {_COLUMNS}""",
            stream_id,
            expected_version,
            [e.event_id for e in events],
            [e.event.event_type for e in events],
            data,
            metadata,
        )
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        for e in events:
            EVENTS_APPENDED.labels(self.service, e.event.event_type).inc()
        return sorted((_record(r) for r in rows), key=lambda r: r.position)

    def _check_size(self, event_type: str, size: int) -> None:
        # json.dumps escapes every non-ASCII character, so characters count as their bytes.
        if size > self.max_event_bytes:
            raise EventTooLarge(event_type, size, self.max_event_bytes)

    async def read_all(self, db: Executor, after: int = 0, limit: int = 500) -> list[RecordedEvent]:
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return [_record(r) for r in rows]

    async def head(self, db: Executor) -> int:
        value: Any = await db.fetchval("SELECT coalesce(max(position), 0) FROM events")
        return int(value)
