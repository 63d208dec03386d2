"""The live dashboard feed: Postgres LISTEN on ``aidport_reporting`` fanned out to SSE.

The consumer NOTIFYs in its transaction, so every replica's feed hears of new facts when
they are committed, whichever replica consumed them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.reporting.projections import REPORTING_CHANNEL
from shared.runtime import Runtime

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0
_BACKLOG = 100  # a reader this far behind only needs to know that something changed


class DashboardFeed:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[str]] = set()

    async def run(self, runtime: Runtime) -> None:
        """Hold a LISTEN connection for the service's lifetime, reconnecting when it drops."""
        while True:
            try:
                await self._listen_until_lost(runtime.settings.database_url)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("dashboard feed lost its connection: %r", error)
            await asyncio.sleep(1.0)

    async def _listen_until_lost(self, dsn: str) -> None:
        conn = await asyncpg.connect(dsn)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(REPORTING_CHANNEL, self._notified)
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        for queue in self._subscribers:
            if queue.qsize() < _BACKLOG:
                queue.put_nowait(str(payload))

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
