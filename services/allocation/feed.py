"""The live feed of a province's inbox: Postgres LISTEN fanned out to Server-Sent Events.

The notices projection NOTIFYs on commit, so every replica's feed hears of a notice
whichever replica recorded it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.allocation.projections import NOTICES_CHANNEL
from shared.runtime import Runtime

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0


class NoticeFeed:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    async def run(self, runtime: Runtime) -> None:
        """Hold a LISTEN connection for the service's lifetime, reconnecting when it drops."""
        while True:
            try:
                await self._listen_until_lost(runtime.settings.database_url)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("notice feed lost its connection: %r", error)
            await asyncio.sleep(1.0)

    async def _listen_until_lost(self, dsn: str) -> None:
        conn = await asyncpg.connect(dsn)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(NOTICES_CHANNEL, self._notified)
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        province_code = str(payload)
        for queue in self._subscribers.get(province_code, ()):
            queue.put_nowait(province_code)

    @contextlib.asynccontextmanager
    async def subscribe(self, province_code: str) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers[province_code].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[province_code].discard(queue)
