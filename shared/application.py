"""The application layer: load a stream, decide in pure code, append, project.

``CommandHandler.handle`` runs inside the caller's transaction (an HTTP request or a
consumer batch) and sends three statements: the load, the append (which checks the
expected version itself) and the projections' updates. ``in_transaction`` opens the
transaction and runs the work again, from the start, after a concurrency conflict.

The store keeps each stream's events in version order (the append checks it); events of
different streams go in the order of their transactions' ids, which a transaction takes at
its first write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg

from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.decider import C, Decider, S
from shared.eventstore import ConcurrencyError, EventStore, NewEvent, RecordedEvent
from shared.projections import Projection, project

T = TypeVar("T")


class CommandHandler(Generic[S, C]):
    def __init__(
        self, store: EventStore, decider: Decider[S, C], projections: Sequence[Projection] = ()
    ) -> None:
        self.store = store
        self.decider = decider
        self.projections = projections

    async def load(self, db: Conn | asyncpg.Pool, stream_id: str) -> tuple[S, int]:
        """The current state of a stream and its version (0 when it does not exist)."""
        recorded = await self.store.load(db, stream_id)
        state = self.decider.fold(r.decode() for r in recorded)
        return state, (recorded[-1].stream_version if recorded else 0)

    async def handle(
        self, conn: Conn, stream_id: str, command: C, metadata: JsonDict
    ) -> list[RecordedEvent]:
        state, version = await self.load(conn, stream_id)
        events = self.decider.decide(command, state)
        recorded = await self.store.append(
            conn, stream_id, version, [NewEvent(e, metadata) for e in events]
        )
        await project(conn, self.projections, recorded)
        return recorded


async def in_transaction(
    pool: asyncpg.Pool, work: Callable[[Conn], Awaitable[T]], attempts: int = 5
) -> T:
    """Run ``work`` in a transaction, again from the start after a concurrency conflict."""
    for attempt in range(1, attempts + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except ConcurrencyError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
