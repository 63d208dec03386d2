"""Helpers for the kit's integration tests: writers, a counting handler, running tasks."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from shared.consumer import ConsumerRunner, Handler, Reaction
from shared.db import Conn
from shared.envelope import Envelope
from shared.eventstore import EventStore
from shared.relay import Relay, idempotent_producer
from tests.sample_events import ping, test_types

EFFECTS_TABLE = """CREATE TABLE IF NOT EXISTS effects (
    event_id uuid PRIMARY KEY, subject text NOT NULL, n int NOT NULL,
    applied int NOT NULL DEFAULT 1, seq bigserial)"""


async def counting_handler_table(pool: asyncpg.Pool) -> None:
    await pool.execute(EFFECTS_TABLE)


async def count_effect(conn: Conn, envelope: Envelope) -> None:
    """A downstream effect that shows how often it was applied."""
    await conn.execute(
        "INSERT INTO effects (event_id, subject, n) VALUES ($1, $2, $3)"
        " ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1",
        envelope.id,
        envelope.subject,
        envelope.data["n"],
    )


async def write_streams(
    pool: asyncpg.Pool, writers: int, events_per_writer: int, batch: int = 3
) -> list[uuid.UUID]:
    """``writers`` concurrent writers, each appending to its own stream in small batches."""
    store = EventStore("test")

    async def writer() -> uuid.UUID:
        stream = uuid.uuid4()
        version = 0
        while version < events_per_writer:
            size = min(batch, events_per_writer - version)
            async with pool.acquire() as conn, conn.transaction():
                await store.append(
                    conn, str(stream), version, [ping(stream, version + i) for i in range(size)]
                )
            version += size
        return stream

    return list(await asyncio.gather(*(writer() for _ in range(writers))))


def make_relay(dsn: str, topic: str, bootstrap: str, **options: Any) -> Relay:
    return Relay(
        service="test",
        dsn=dsn,
        topic=topic,
        producer_factory=idempotent_producer(bootstrap),
        poll_interval=0.2,
        **options,
    )


def make_consumer(
    pool: asyncpg.Pool,
    topic: str,
    bootstrap: str,
    handler: Handler | Reaction = count_effect,
    group: str = "test-group",
    **options: Any,
) -> ConsumerRunner:
    return ConsumerRunner(
        group=group,
        topics=[topic],
        bootstrap_servers=bootstrap,
        pool=pool,
        handler=handler,
        types=test_types,
        **options,
    )


@contextlib.asynccontextmanager
async def running(*work: Awaitable[None]) -> AsyncIterator[None]:
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 60.0, interval: float = 0.1
) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(interval)
