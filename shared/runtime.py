"""What a running service holds: settings, the pool, the store, the relay and its consumer.

A service describes itself with a ``ServiceSpec``; ``Runtime`` starts and stops the
background work (relay, consumer) around the HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaClient

from shared.consumer import ConsumerRunner, Handler
from shared.db import create_pool
from shared.eventstore import EventStore
from shared.migrations import migrate
from shared.projections import Projection, rebuild
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings, topic_of

log = logging.getLogger(__name__)
_READY_TIMEOUT = 3.0  # seconds a readiness probe waits for the database or the broker


@dataclass
class ServiceSpec:
    name: str
    title: str
    migrations: Path
    projections: Sequence[Projection] = ()
    subscriptions: Sequence[str] = ()  # the services whose events this one reacts to
    reaction: Callable[[Runtime], Handler] | None = None
    package_dir: Path | None = None  # holds web/templates and web/locale
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()  # e.g. live feeds


@dataclass
class Runtime:
    spec: ServiceSpec
    settings: Settings
    pool: asyncpg.Pool = field(init=False)
    store: EventStore = field(init=False)
    consumer: ConsumerRunner | None = None
    kafka: AIOKafkaClient | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self.store = EventStore(self.spec.name, self.settings.max_event_bytes)
        self.pool = await create_pool(
            self.settings.database_url, max_size=self.settings.db_pool_size
        )
        async with self.pool.acquire() as conn:
            await migrate(conn, self.spec.migrations)
        self.kafka = AIOKafkaClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        if self.settings.relay_enabled:
            self._spawn(self._relay().run(), "relay")
        if self.spec.reaction is not None and self.spec.subscriptions:
            self.consumer = ConsumerRunner(
                group=self.settings.consumer_group,
                topics=[topic_of(s, self.settings.topic_prefix) for s in self.spec.subscriptions],
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                pool=self.pool,
                handler=self.spec.reaction(self),
            )
            self._spawn(self.consumer.run(), "consumer")
        for work in self.spec.background:
            self._spawn(work(self), work.__qualname__)

    def _relay(self) -> Relay:
        return Relay(
            service=self.spec.name,
            dsn=self.settings.database_url,
            topic=self.settings.topic,
            producer_factory=idempotent_producer(self.settings.kafka_bootstrap_servers),
        )

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=f"{self.spec.name}-{name}")
        task.add_done_callback(lambda t: self._report_end(t, name))
        self._tasks.append(task)

    @staticmethod
    def _report_end(task: asyncio.Task[None], name: str) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %r", name, task.exception())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.kafka is not None:
            with contextlib.suppress(Exception):
                await self.kafka.close()
        await self.pool.close()

    async def broker_ready(self) -> bool:
        if self.kafka is None:
            return False
        try:
            async with asyncio.timeout(_READY_TIMEOUT):
                await self.kafka.bootstrap()
                return True
        except Exception:
            return False

    async def database_ready(self) -> bool:
        try:
            async with asyncio.timeout(_READY_TIMEOUT):
                return bool(await self.pool.fetchval("SELECT 1") == 1)
        except Exception:
            return False

    async def rebuild_projections(self) -> int:
        return await rebuild(self.pool, self.store, self.spec.projections)
