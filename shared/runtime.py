"""What a running service holds: settings, the pool, the store, the relay and its consumer.

A service describes itself with a ``ServiceSpec``; ``Runtime`` starts and stops the
background work (relay, consumer) around the HTTP server. The relay always has its own
connection; with ``AIDPORT_BACKGROUND=pool`` (the default) the consumer has its own pool
too, so a catch-up never holds the connections the API's requests wait for
(``inline`` shares the API's pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaClient

from shared.consumer import ConsumerRunner, Handler, Reaction
from shared.db import connect, create_pool
from shared.eventstore import EventStore
from shared.migrations import migrate
from shared.observability import CONSUMER_RESTARTS
from shared.projections import Projection, rebuild
from shared.relay import Relay, idempotent_producer
from shared.resilience import Outage, Supervisor
from shared.retention import Sweep
from shared.settings import Settings, topic_of

log = logging.getLogger(__name__)
_READY_TIMEOUT = 3.0  # seconds a readiness probe waits for the database or the broker
_WATCH_INTERVAL = 2.0  # seconds between two checks of the dependency watch


_heap_settled = False


def settle_heap() -> None:
    """Once per process, when the service has started: its modules, models and templates
    live as long as it does, so they are frozen out of the collector's full scans (which
    took a third of a catch-up's time rescanning them)."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Component:
    """One line of the readiness answer."""

    ok: bool
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"status": "ok" if self.ok else "failing", "reason": self.reason}


@dataclass
class ServiceSpec:
    name: str
    title: str
    migrations: Path
    projections: Sequence[Projection] = ()
    subscriptions: Sequence[str] = ()  # the services whose events this one reacts to
    reaction: Callable[[Runtime], Handler | Reaction] | None = None
    package_dir: Path | None = None  # holds web/templates and web/locale
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()  # e.g. live feeds
    sweeps: Sequence[Callable[[], Sweep]] = ()  # its own retention, besides the shared sweeps
    publishes: bool = True  # False: a read-side service, no events of its own and no relay
    rebuilder: Callable[[asyncpg.Pool], Coroutine[Any, Any, int]] | None = None
    """Rebuilds the projections of a service whose projections are not fed by its own
    event store (a read side); returns the events replayed."""


@dataclass
class Runtime:
    spec: ServiceSpec
    settings: Settings
    pool: asyncpg.Pool = field(init=False)
    background_pool: asyncpg.Pool | None = None  # the consumer's own (AIDPORT_BACKGROUND=pool)
    store: EventStore = field(init=False)
    consumer: ConsumerRunner | None = None
    consumer_supervisor: Supervisor | None = None
    relay: Relay | None = None
    kafka: AIOKafkaClient | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    """What a service's requests share for the replica's lifetime (a computation in flight)."""
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def start(self) -> None:
        self.store = EventStore(self.spec.name, self.settings.max_event_bytes)
        migrations = await connect(self.settings.database_url)  # no statement timeout
        try:
            await migrate(migrations, self.spec.migrations)
        finally:
            await migrations.close()
        self.pool = await create_pool(
            self.settings.database_url,
            max_size=self.settings.db_pool_size,
            statement_timeout=self.settings.db_statement_timeout_seconds,
        )
        self.kafka = AIOKafkaClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        self.spawn(self._watch_dependencies(), "dependency-watch")
        if self.settings.relay_enabled and self.spec.publishes:
            self.relay = self._relay()
            self.spawn(self.relay.run(), "relay")
        if self.spec.reaction is not None and self.spec.subscriptions:
            if self.settings.background == "pool":
                self.background_pool = await create_pool(
                    self.settings.database_url, max_size=self.settings.background_pool_size
                )
            self.consumer = self._consumer(self.spec.reaction(self))
            group = self.settings.consumer_group
            self.consumer_supervisor = Supervisor(
                name=f"consumer {group}",
                work=self.consumer.run,
                on_restart=CONSUMER_RESTARTS.labels(group).inc,
            )
            self.spawn(self.consumer_supervisor.run(), "consumer")
        for work in self.spec.background:
            self.spawn(work(self), work.__qualname__)
        settle_heap()

    def _consumer(self, handler: Handler | Reaction) -> ConsumerRunner:
        settings = self.settings
        return ConsumerRunner(
            group=settings.consumer_group,
            topics=[topic_of(s, settings.topic_prefix) for s in self.spec.subscriptions],
            bootstrap_servers=settings.kafka_bootstrap_servers,
            pool=self.background_pool or self.pool,
            handler=handler,
            max_message_bytes=settings.consumer_max_message_bytes,
            group_instance_id=settings.group_instance_id,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
            processed_retention=timedelta(hours=settings.processed_retention_hours),
        )

    def _relay(self) -> Relay:
        return Relay(
            service=self.spec.name,
            dsn=self.settings.database_url,
            topic=self.settings.topic,
            producer_factory=idempotent_producer(self.settings.kafka_bootstrap_servers),
        )

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` for the service's lifetime: cancelled by ``stop``, its end logged."""
        task = asyncio.create_task(work, name=f"{self.spec.name}-{name}")
        task.add_done_callback(lambda t: self._report_end(t, name))
        self._tasks[name] = task

    @staticmethod
    def _report_end(task: asyncio.Task[None], name: str) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %r", name, task.exception())

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.kafka is not None:
            with contextlib.suppress(Exception):
                await self.kafka.close()
        if self.background_pool is not None:
            await self.background_pool.close()
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

    async def _watch_dependencies(self) -> None:
        """Logs one line when the database or the broker becomes unreachable, and one when
        it is back (the libraries' own reconnect noise is filtered, see RepeatFilter)."""
        database = Outage(log, f"{self.spec.name}: database")
        broker = Outage(log, f"{self.spec.name}: broker")
        while True:
            for outage, check in ((database, self.database_ready), (broker, self.broker_ready)):
                if await check():
                    outage.recovered()
                else:
                    outage.failed("not reachable")
            await asyncio.sleep(_WATCH_INTERVAL)

    async def health(self) -> dict[str, Component]:
        """What readiness reports: each component, with why it fails."""
        database_ok, broker_ok = await asyncio.gather(self.database_ready(), self.broker_ready())
        return {
            "database": Component(database_ok, "reachable" if database_ok else "not reachable"),
            "broker": Component(broker_ok, "reachable" if broker_ok else "not reachable"),
            "relay": await self._relay_health(database_ok),
            "consumer": self._consumer_health(),
        }

    async def _relay_health(self, database_ok: bool) -> Component:
        if not self.spec.publishes:
            return Component(True, "none: this service publishes no events")
        if self.relay is None:
            return Component(True, "disabled")
        task = self._tasks.get("relay")
        if task is None or task.done():
            return Component(False, "the relay task is dead")
        if not self.relay.active:
            if self.relay.outage.down:
                return Component(False, f"failing: {self.relay.outage.last_error[:200]}")
            return Component(True, "standby: another replica holds the relay lock")
        if not database_ok:
            return Component(False, "cannot read the backlog: database not reachable")
        age = await self.oldest_unpublished_age()
        limit = self.settings.relay_stuck_seconds
        if age > limit:
            return Component(False, f"stuck: the oldest unpublished event is {age:.0f}s old")
        return Component(True, f"publishing (oldest unpublished event {age:.0f}s old)")

    async def oldest_unpublished_age(self) -> float:
        """Seconds since the oldest event after the checkpoint was recorded (0 when none).
        Quarantined and held events are behind the checkpoint: they do not count."""
        async with asyncio.timeout(_READY_TIMEOUT):
            age = await self.pool.fetchval(
                """SELECT extract(epoch FROM clock_timestamp() - recorded_at) FROM events
                   WHERE position > coalesce((SELECT position FROM relay_checkpoints
                                              WHERE relay = $1), 0)
                   ORDER BY position LIMIT 1""",
                self.spec.name,
            )
        return float(age or 0.0)

    def _consumer_health(self) -> Component:
        supervisor = self.consumer_supervisor
        if supervisor is None:
            return Component(True, "no subscriptions")
        task = self._tasks.get("consumer")
        if task is None or task.done():
            return Component(False, "the consumer task is dead")
        if supervisor.restarting:
            return Component(False, f"restarting after: {supervisor.last_error}")
        busy = self.consumer.busy_for() if self.consumer is not None else 0.0
        if busy > self.settings.consumer_stuck_seconds:
            return Component(False, f"stuck: one batch has been in hand for {busy:.0f}s")
        assigned = self.consumer is not None and self.consumer.ready.is_set()
        return Component(True, "consuming" if assigned else "joining its group")

    async def rebuild_projections(self) -> int:
        if self.spec.rebuilder is not None:
            return await self.spec.rebuilder(self.pool)
        return await rebuild(self.pool, self.store, self.spec.projections)
