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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

from shared.application import CommandHandler
from shared.contracts.base import EventRegistry, JsonDict, registry
from shared.db import Conn, to_json
from shared.decider import C, S
from shared.eventstore import (
    ConcurrencyError,
    EventTooLarge,
    NewEvent,
    RecordedEvent,
    appending_conflicts,
    published_size,
)
from shared.observability import EVENTS_APPENDED
from shared.projections import FoldedStream, project


@dataclass(frozen=True)
class StreamCommand(Generic[C]):
    stream_id: str
    command: C
    metadata: JsonDict


@dataclass
class _Stream(Generic[S]):
    state: S
    version: int
    records: list[RecordedEvent]


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
        await project(conn, self.handler.projections, recorded, _folded(streams, recorded))
        by_id = {r.event_id: r for r in recorded}
        return [[by_id[e.event_id] for _, _, e in batch] for batch in decided]

    async def _load(self, conn: Conn, stream_ids: list[str]) -> dict[str, _Stream[S]]:
        decider = self.handler.decider
        streams = {}
        for stream_id, records in (await self.handler.store.load_many(conn, stream_ids)).items():
            state = decider.fold(r.decode(self.types) for r in records)
            version = records[-1].stream_version if records else 0
            streams[stream_id] = _Stream(state, version, records)
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
        data = [e.event.to_data() for _, _, e in decided]  # JSON values already
        encoded = [to_json(d) for d in data]
        metadata = [to_json(e.metadata) for _, _, e in decided]
        for (_, _, new), text, m in zip(decided, encoded, metadata, strict=True):
            size = published_size(text) + published_size(m)
            if size > store.max_event_bytes:
                raise EventTooLarge(new.event.event_type, size, store.max_event_bytes)
        await self._check_predecessors(conn, decided)
        with appending_conflicts():
            rows = await conn.fetch(
                """INSERT INTO events (stream_id, stream_version, event_id, event_type, data,
                       metadata)
                   SELECT s, v, id, t, d::jsonb, m::jsonb
                   FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::text[],
                               $6::text[]) WITH ORDINALITY AS e(s, v, id, t, d, m, n)
                   ORDER BY n
                   RETURNING event_id, position, recorded_at, transaction_id""",
                [s for s, _, _ in decided],
                [v for _, v, _ in decided],
                [e.event_id for _, _, e in decided],
                [e.event.event_type for _, _, e in decided],
                encoded,
                metadata,
            )
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
                transaction_id=returned[new.event_id]["transaction_id"],
            )
            for (stream_id, version, new), d in zip(decided, data, strict=True)
        ]
        return sorted(recorded, key=lambda r: r.position)

    async def _check_predecessors(
        self, conn: Conn, decided: Sequence[tuple[str, int, NewEvent]]
    ) -> None:
        """As EventStore.append: each stream's loaded last event must be written by a
        transaction not younger than this one (readers go in transaction order)."""
        first = {s: v - 1 for s, v, _ in reversed(decided)}
        loaded = [(s, v) for s, v in first.items() if v > 0]
        if not loaded:
            return
        missing = await conn.fetchval(
            """SELECT count(*) FROM unnest($1::text[], $2::int[]) AS x(s, v)
               WHERE NOT EXISTS (SELECT FROM events WHERE stream_id = x.s
                   AND stream_version = x.v AND transaction_id <= pg_current_xact_id())""",
            [s for s, _ in loaded],
            [v for _, v in loaded],
        )
        if missing:
            raise ConcurrencyError(loaded[0][0])


def _folded(
    streams: dict[str, _Stream[S]], recorded: Sequence[RecordedEvent]
) -> list[FoldedStream]:
    """The streams that have new events, with them: what a ``FoldedProjection`` reads."""
    for event in recorded:
        streams[event.stream_id].records.append(event)
    touched = dict.fromkeys(e.stream_id for e in recorded)
    return [FoldedStream(streams[s].state, streams[s].records) for s in touched]
