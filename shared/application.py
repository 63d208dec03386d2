"""The application layer: load a stream, decide in pure code, append, project.

``CommandHandler.handle`` runs inside the caller's transaction (an HTTP request or a
consumer batch) and sends three statements: the load, the append (which checks the
expected version itself) and the projections' updates. A ``FoldedProjection`` is handed
the state the command was decided on, moved on by its events, instead of loading and
folding the stream a second time. ``in_transaction`` opens the
transaction and runs the work again, from the start, after a concurrency conflict.

The store keeps each stream's events in version order (the append checks it); events of
different streams go in the order of their transactions' ids, which a transaction takes at
its first write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar, cast

import asyncpg

from shared.contracts.base import DomainEvent, JsonDict
from shared.db import Conn
from shared.decider import C, Decider, DomainError, S
from shared.eventstore import ConcurrencyError, EventStore, NewEvent, RecordedEvent
from shared.projections import FoldedProjection, FoldedStream, Projection, project

T = TypeVar("T")


class CommandHandler(Generic[S, C]):
    def __init__(
        self, store: EventStore, decider: Decider[S, C], projections: Sequence[Projection] = ()
    ) -> None:
        self.store = store
        self.decider = decider
        self.projections = projections
        # a plain attribute test: isinstance on a Protocol shows in a command's profile
        self._by_state = [
            cast(FoldedProjection, p) if hasattr(p, "apply_folded") else None for p in projections
        ]

    async def load(self, db: Conn | asyncpg.Pool, stream_id: str) -> tuple[S, int]:
        """The current state of a stream and its version (0 when it does not exist)."""
        state, history = await self._history(db, stream_id)
        return state, (history[-1].stream_version if history else 0)

    async def _history(
        self, db: Conn | asyncpg.Pool, stream_id: str
    ) -> tuple[S, list[RecordedEvent]]:
        recorded = await self.store.load(db, stream_id)
        return self.decider.fold(r.decode() for r in recorded), recorded

    async def handle(
        self,
        conn: Conn,
        stream_id: str,
        command: C,
        metadata: JsonDict,
        check: Callable[[S], None] | None = None,
    ) -> list[RecordedEvent]:
        """``check`` sees the loaded state first and may refuse (e.g. who may act on it),
        which spares reading the stream's row before the transaction."""
        state, history = await self._history(conn, stream_id)
        if check is not None:
            check(state)
        events = self.decider.decide(command, state)
        version = history[-1].stream_version if history else 0
        recorded = await self.store.append(
            conn, stream_id, version, [NewEvent(e, metadata) for e in events]
        )
        await self._project(conn, state, events, [*history, *recorded])
        return recorded

    async def start(
        self, conn: Conn, stream_id: str, command: C, metadata: JsonDict
    ) -> list[RecordedEvent]:
        """``handle`` for a command that opens a stream (an announcement): decided on the
        initial state and appended in one statement, without loading the stream first.
        When the stream exists after all, or the decision on the initial state fails, the
        command is handled as any other (so a repeat gets the same answer as before)."""
        try:
            events = self.decider.decide(command, self.decider.initial)
        except DomainError:
            return await self.handle(conn, stream_id, command, metadata)
        new = [NewEvent(e, metadata) for e in events]
        recorded = await self.store.start(conn, stream_id, new)
        if recorded is None:
            return await self.handle(conn, stream_id, command, metadata)
        await self._project(conn, self.decider.initial, events, recorded)
        return recorded

    async def _project(
        self,
        conn: Conn,
        before: S,
        events: Sequence[DomainEvent],
        history: Sequence[RecordedEvent],
    ) -> None:
        """The projections of the events just recorded (the last of ``history``)."""
        recorded = history[len(history) - len(events) :]
        after = self.decider.fold_from(before, events) if any(self._by_state) else before
        for projection, by_state in zip(self.projections, self._by_state, strict=True):
            if by_state is not None:
                await by_state.apply_folded(conn, [FoldedStream(after, history)])
            else:
                await project(conn, [projection], recorded)


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
