"""Projections: tables shaped for the screens and APIs that read them.

A projection here is fed by the service's own events, in the same transaction as the
append (a reader sees its own writes at once). ``rebuild`` replays the whole event store
into empty tables inside one transaction, so readers keep the old tables until the new
ones commit, and the result equals the incrementally built one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import asyncpg

from shared.db import Conn
from shared.eventstore import EventStore, RecordedEvent


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[str]:
        """The tables it owns: emptied before a rebuild."""
        ...

    async def apply(self, conn: Conn, event: RecordedEvent) -> None: ...


async def project(
    conn: Conn, projections: Iterable[Projection], events: Iterable[RecordedEvent]
) -> None:
    for event in events:
        for projection in projections:
            await projection.apply(conn, event)


async def rebuild(
    pool: asyncpg.Pool, store: EventStore, projections: Sequence[Projection], batch: int = 1000
) -> int:
    """Rebuild from scratch; returns the number of events replayed."""
    replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        for projection in projections:
            for table in projection.tables:
                await conn.execute(f"DELETE FROM {table}")
        position = 0
        while events := await store.read_all(conn, after=position, limit=batch):
            await project(conn, projections, events)
            position = events[-1].position
            replayed += len(events)
    return replayed
