"""Live pages: a PostgreSQL channel (LISTEN) fanned out to Server-Sent Events.

A projection NOTIFYs in its transaction, so every replica's feed hears of a change when it
commits, whichever replica wrote it. The payload names what changed (a province, a
consignment); a reader follows one name or all of them.

Bounded at both ends: each reader's queue keeps at most ``BACKLOG`` changes (a reader that
far behind only needs to know that something changed), and a replica serves at most
about ``AIDPORT_MAX_LIVE_READERS`` feeds at once (counted as streams start); the next one is
refused with a 503, so open streams cannot exhaust the service or, through the reads each
change triggers, its database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import StreamingResponse

from shared.http.problems import ProblemError
from shared.runtime import Runtime

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0
BACKLOG = 100
RECONNECT_SECONDS = 1.0
PROBE_SECONDS = 30.0  # how often a quiet LISTEN connection is checked
PROBE_TIMEOUT = 10.0
EVERYTHING = ""  # the key of a reader that follows every change

Render = Callable[[str], Awaitable[str]]
"""The SSE message (``event: ...\\ndata: ...\\n\\n``) for a change, given its payload."""


class LiveFeed:
    def __init__(self, channel: str, max_readers: int = 200) -> None:
        self.channel = channel
        self.max_readers = max_readers
        self._readers: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    @property
    def name(self) -> str:
        """Its LISTEN connection's ``application_name``, as ``pg_stat_activity`` shows it."""
        return f"aidport live feed {self.channel}"

    @property
    def readers(self) -> int:
        return sum(len(queues) for queues in self._readers.values())

    async def run(self, runtime: Runtime) -> None:
        """Hold a LISTEN connection for the service's lifetime, reconnecting when it drops."""
        self.max_readers = runtime.settings.max_live_readers
        while True:
            try:
                await self._listen_until_lost(runtime.settings.database_url)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("live feed %s lost its connection: %r", self.channel, error)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_until_lost(self, dsn: str) -> None:
        conn = await asyncpg.connect(dsn, server_settings={"application_name": self.name})
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self.channel, self._notified)
            self._wake_everyone()  # what changed while no connection listened is not known
            while not lost.is_set():
                await _probe(conn, lost)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _wake_everyone(self) -> None:
        for key, queues in self._readers.items():
            for queue in queues:
                if queue.qsize() < BACKLOG:
                    queue.put_nowait(key)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self.publish(str(payload))

    def publish(self, change: str) -> None:
        """Tell the readers of ``change`` and those of everything (what a NOTIFY does)."""
        for key in {change, EVERYTHING}:
            for queue in self._readers.get(key, ()):
                if queue.qsize() < BACKLOG:
                    queue.put_nowait(change)

    @contextlib.asynccontextmanager
    async def subscribe(self, key: str = EVERYTHING) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._readers[key].add(queue)
        try:
            yield queue
        finally:
            self._readers[key].discard(queue)
            if not self._readers[key]:
                del self._readers[key]

    def stream(self, request: Request, render: Render, key: str = EVERYTHING) -> StreamingResponse:
        """The SSE response: a retry hint, then ``render(change)`` for every change of
        ``key``, a comment every ``HEARTBEAT_SECONDS`` so that proxies keep it open.
        Refused (503) when the replica already serves ``max_readers`` feeds."""
        if self.readers >= self.max_readers:
            raise ProblemError(
                503,
                "Too many live feeds",
                f"this server already serves {self.max_readers} live feeds; try again shortly",
                "live-feeds-full",
            )

        async def events() -> AsyncIterator[str]:
            async with self.subscribe(key) as changes:
                yield "retry: 3000\n\n"
                while not await request.is_disconnected():
                    try:
                        change = await asyncio.wait_for(changes.get(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield await render(change)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )


async def _probe(conn: asyncpg.Connection, lost: asyncio.Event) -> None:
    """Wait ``PROBE_SECONDS`` for the connection to end, then ask the database something: a
    connection dropped without a word (a failover, an idle NAT) fails here, and the feed
    reconnects instead of staying deaf."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(lost.wait(), PROBE_SECONDS)
        return
    async with asyncio.timeout(PROBE_TIMEOUT):
        await conn.execute("SELECT 1")
