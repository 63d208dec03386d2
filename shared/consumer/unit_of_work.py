"""A batch unit of work: many commands on many streams in a handful of statements.

A reaction turns each consumed event into a command on one of the service's streams.
Instead of load/decide/append/project per event, ``BatchUnitOfWork.run``:

1. loads every stream the batch touches in ONE query (``stream_id = ANY($1)``);
2. folds them and decides each command in order, in memory, the state of a stream
   evolving with the events decided before (two commands on one stream in a batch are fine);
3. appends all new events with ONE ``INSERT ... unnest``; the expected versions are
   guarded by ``UNIQUE(stream_id, stream_version)``: a clash with a concurrent writer is a
   ``ConcurrencyError``, which the consumer treats as transient (the batch is retried);
4. applies the projections to all recorded events set-based.

A command that fails to decide raises: the consumer then falls back to one event at a
time, in savepoints, so that only that event's subject is parked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

import asyncpg

from shared.application import CommandHandler
from shared.contracts.base import EventRegistry, JsonDict, registry
from shared.db import Conn
from shared.decider import C, S
from shared.eventstore import (
    NOTIFY_CHANNEL,
    ConcurrencyError,
    EventTooLarge,
    NewEvent,
    RecordedEvent,
)
from shared.observability import EVENTS_APPENDED
from shared.projections import project


@dataclass(frozen=True)
class StreamCommand(Generic[C]):
    stream_id: str
    command: C
    metadata: JsonDict


@dataclass
class _Stream(Generic[S]):
    state: S
    version: int


class BatchUnitOfWork(Generic[S, C]):
    """Runs a batch of commands through a ``CommandHandler``'s decider and projections."""

    def __init__(self, handler: CommandHandler[S, C], types: EventRegistry = registry) -> None:
        self.handler = handler
        self.types = types

    async def run(
        self, conn: Conn, commands: Sequence[StreamCommand[C]]
    ) -> list[list[RecordedEvent]]:
        """The events recorded for each command, in the order of ``commands``."""
        streams = await self._load(conn, sorted({c.stream_id for c in commands}))
        decided = [self._decide(streams, c) for c in commands]
        recorded = await self._append(conn, [e for batch in decided for e in batch])
        await project(conn, self.handler.projections, recorded)
        by_id = {r.event_id: r for r in recorded}
        return [[by_id[e.event_id] for _, _, e in batch] for batch in decided]

    async def _load(self, conn: Conn, stream_ids: list[str]) -> dict[str, _Stream[S]]:
        rows = await conn.fetch(
            "SELECT stream_id, stream_version, event_type, data FROM events"
            " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version",
            stream_ids,
        )
        decider = self.handler.decider
        streams = {s: _Stream(decider.initial, 0) for s in stream_ids}
        for row in rows:
            stream = streams[row["stream_id"]]
            event = self.types.decode(row["event_type"], json.loads(row["data"]))
            stream.state = decider.evolve(stream.state, event)
            stream.version = row["stream_version"]
        return streams

    def _decide(
        self, streams: dict[str, _Stream[S]], command: StreamCommand[C]
    ) -> list[tuple[str, int, NewEvent]]:
        stream = streams[command.stream_id]
        decider = self.handler.decider
        events = decider.decide(command.command, stream.state)
        decided = []
        for event in events:
            stream.state = decider.evolve(stream.state, event)
            stream.version += 1
            decided.append((command.stream_id, stream.version, NewEvent(event, command.metadata)))
        return decided

    async def _append(
        self, conn: Conn, decided: Sequence[tuple[str, int, NewEvent]]
    ) -> list[RecordedEvent]:
        if not decided:
            return []
        store = self.handler.store
        # pydantic's own JSON is ``to_data()`` serialised, several times faster.
        encoded = [e.event.model_dump_json() for _, _, e in decided]
        data = [json.loads(text) for text in encoded]
        metadata = [json.dumps(e.metadata) for _, _, e in decided]
        for (_, _, new), text, d, m in zip(decided, encoded, data, metadata, strict=True):
            # Sized as EventStore.append sizes it: non-ASCII characters as their escapes.
            size = (len(text) if text.isascii() else len(json.dumps(d))) + len(m)
            if size > store.max_event_bytes:
                raise EventTooLarge(new.event.event_type, size, store.max_event_bytes)
        # Gap-safe ordering as EventStore.append has it (commits in position order).
        await conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        try:
            rows = await conn.fetch(
                """INSERT INTO events (stream_id, stream_version, event_id, event_type, data,
                       metadata)
                   SELECT s, v, id, t, d::jsonb, m::jsonb
                   FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::text[],
                               $6::text[]) WITH ORDINALITY AS e(s, v, id, t, d, m, n)
                   ORDER BY n
                   RETURNING event_id, position, recorded_at""",
                [s for s, _, _ in decided],
                [v for _, v, _ in decided],
                [e.event_id for _, _, e in decided],
                [e.event.event_type for _, _, e in decided],
                encoded,
                metadata,
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "events_stream_id_stream_version_key":
                raise ConcurrencyError(str(error.detail), 0, 0) from error
            raise
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        for _, _, e in decided:
            EVENTS_APPENDED.labels(store.service, e.event.event_type).inc()
        returned = {row["event_id"]: row for row in rows}
        recorded = [
            RecordedEvent(
                position=returned[new.event_id]["position"],
                stream_id=stream_id,
                stream_version=version,
                event_id=new.event_id,
                event_type=new.event.event_type,
                data=d,
                metadata=new.metadata,
                recorded_at=returned[new.event_id]["recorded_at"],
            )
            for (stream_id, version, new), d in zip(decided, data, strict=True)
        ]
        return sorted(recorded, key=lambda r: r.position)
