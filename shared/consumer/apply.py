"""Apply: a batch of decoded events in the consumer's transaction, exactly once.

Already-processed ids are found with one statement and recorded with one. The events of
a batch go to the reaction's set-based ``many`` in one savepoint; when that fails for
good (a decide or handler error), they go one at a time, each in its own savepoint, so
that only the failing event's subject is parked and the rest of the batch goes on.
Transient errors (``TRANSIENT_ERRORS``) are re-raised: the runner retries the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from aiokafka.errors import KafkaError

from shared.consumer import parking
from shared.consumer.dead_letters import clean_text
from shared.contracts.base import DomainEvent
from shared.db import Conn
from shared.envelope import Envelope
from shared.eventstore import ConcurrencyError
from shared.observability import CONSUMED, correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[Conn, Envelope], Awaitable[None]]
BatchHandler = Callable[[Conn, Sequence[Envelope]], Awaitable[None]]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.QueryCanceledError,  # a statement timeout: the database was slow
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConcurrencyError,
    KafkaError,
)


@dataclass(frozen=True)
class Reaction:
    """What a service does on consumed events: ``one`` for a single event, and optionally
    ``many`` for a whole batch at once (same effects as ``one`` on each, in order).

    ``acts_on``, when given, names every event class the reaction can act on: messages of
    other known types are passed over undecoded (their offsets move on with the batch)."""

    one: Handler
    many: BatchHandler | None = None
    acts_on: tuple[type[DomainEvent], ...] = ()


class Applier:
    def __init__(self, group: str, reaction: Reaction) -> None:
        self.group = group
        self.reaction = reaction

    async def apply(self, conn: Conn, envelopes: Sequence[Envelope], parked: set[str]) -> None:
        """Handle ``envelopes`` (in order) once each; ``parked`` grows with new subjects."""
        done = await processed_among(conn, self.group, [e.id for e in envelopes])
        fresh: list[Envelope] = []
        for envelope in envelopes:
            if envelope.subject in parked:
                await parking.park(
                    conn, self.group, envelope, "waiting behind an earlier parked event"
                )
            elif envelope.id in done:
                CONSUMED.labels(self.group, "duplicate").inc()
            else:
                done.add(envelope.id)
                fresh.append(envelope)
        handled = await self._all_at_once(conn, fresh)
        if handled is None:
            handled = [e for e in fresh if await self.one(conn, e, parked)]
        await mark_processed(conn, self.group, [e.id for e in handled])
        CONSUMED.labels(self.group, "handled").inc(len(handled))

    async def _all_at_once(self, conn: Conn, fresh: list[Envelope]) -> list[Envelope] | None:
        """The handled envelopes, or None when the set-based path is absent or failed."""
        if self.reaction.many is None or len(fresh) < 2:
            return None
        try:
            async with conn.transaction():
                await self.reaction.many(conn, fresh)
            return fresh
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            log.info(
                "consumer %s: batch of %d failed (%r); one by one", self.group, len(fresh), error
            )
            return None

    async def one(self, conn: Conn, envelope: Envelope, parked: set[str]) -> bool:
        """Handle one event in a savepoint; a failure parks its subject. True if handled."""
        token = correlation_id.set(envelope.correlation_id)
        try:
            if envelope.subject in parked:
                await parking.park(
                    conn, self.group, envelope, "waiting behind an earlier parked event"
                )
                return False
            if error := await self.run_handler(conn, envelope):
                await parking.park(conn, self.group, envelope, error)
                parked.add(envelope.subject)
                return False
            return True
        finally:
            correlation_id.reset(token)

    async def run_handler(self, conn: Conn, envelope: Envelope) -> str | None:
        """Run the handler in a savepoint; returns the error of a failed handler (its effects
        are undone), re-raises transient errors. A PostgreSQL data error counts as failed."""
        try:
            async with conn.transaction():
                await self.reaction.one(conn, envelope)
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
        return None


async def processed_among(conn: Conn, group: str, ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT event_id FROM processed_events WHERE consumer_group = $1"
        " AND event_id = ANY($2::uuid[])",
        group,
        list(ids),
    )
    return {r["event_id"] for r in rows}


async def mark_processed(conn: Conn, group: str, ids: Sequence[UUID]) -> None:
    if ids:
        await conn.execute(
            "INSERT INTO processed_events (consumer_group, event_id)"
            " SELECT $1, id FROM unnest($2::uuid[]) AS id",
            group,
            list(ids),
        )
