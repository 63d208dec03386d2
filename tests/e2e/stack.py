"""The three services as separate processes on the session's real broker and database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from shared.auth import DEMO_PASSWORD
from shared.devstack import SERVICES, ServiceProcess, service_env, start_service, wait_ready
from shared.infra.kafka_broker import KafkaBroker, create_topics, free_port
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import all_topics

T = TypeVar("T")


@dataclass
class Stack:
    """Fresh databases and topics (own prefix) per stack; services started and stopped at will."""

    postgres: EmbeddedPostgres
    kafka: KafkaBroker
    log_dir: Path
    prefix: str = field(default_factory=lambda: f"e2e{uuid.uuid4().hex[:6]}")
    ports: dict[str, int] = field(default_factory=lambda: {n: free_port() for n in SERVICES})
    running: dict[str, ServiceProcess] = field(default_factory=dict)
    replicas: dict[str, ServiceProcess] = field(default_factory=dict)  # "<service>-<replica>"
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        urls = {}
        for name in SERVICES:
            database = f"{self.prefix}_{name}"
            self.postgres.create_database(database)
            urls[name] = self.postgres.database_url(database)
        self.env = service_env(urls, self.kafka.bootstrap_servers)
        self.env |= {"AIDPORT_TOPIC_PREFIX": self.prefix, "AIDPORT_LOG_LEVEL": "INFO"}
        self.env |= {"AIDPORT_ENV": "development", "AIDPORT_DEMO_USERS": "true"}
        # Hostile tests send many bad sign-ins from 127.0.0.1; the throttle has its own tests.
        self.env |= {"AIDPORT_LOGIN_FAILURES_PER_CLIENT": "100000"}
        asyncio.run(create_topics(self.kafka.bootstrap_servers, all_topics(self.prefix)))

    def start(self, *names: str) -> None:
        started = [
            start_service(n, self.ports[n], self.env, self.log_dir) for n in names or SERVICES
        ]
        for service in started:
            wait_ready(service)
            self.running[service.name] = service

    def start_replica(self, name: str, replica: str) -> ServiceProcess:
        """One more process of ``name`` on the same databases and topics, with its own port
        and instance id (its consumer joins the same group; its relay waits on standby)."""
        env = self.env | {"AIDPORT_INSTANCE_ID": f"{name}-{replica}"}
        service = start_service(name, free_port(), env, self.log_dir / replica)
        wait_ready(service)
        self.replicas[f"{name}-{replica}"] = service
        return service

    def stop(self, *names: str, kill: bool = False) -> None:
        if not names:
            for replica in self.replicas.values():
                replica.stop()
            self.replicas.clear()
        for name in names or list(self.running):
            service = self.running.pop(name)
            if kill:
                service.process.kill()
                service.process.wait()
            else:
                service.stop()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    async def token(self, client: httpx.AsyncClient, user: str, service: str = "intake") -> str:
        """A token of ``user`` for ``service``: each service accepts only the tokens it issued."""
        if (service, user) not in self._tokens:
            response = await client.post(
                f"{self.url(service)}/api/v1/auth/token",
                data={"username": user, "password": DEMO_PASSWORD},
            )
            response.raise_for_status()
            self._tokens[service, user] = response.json()["access_token"]
        return self._tokens[service, user]

    async def call(
        self,
        client: httpx.AsyncClient,
        user: str,
        method: str,
        service: str,
        path: str,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.token(client, user, service)}"}
        headers |= kwargs.pop("headers", {})
        return await client.request(method, f"{self.url(service)}{path}", headers=headers, **kwargs)


async def until(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 60.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with a timeout otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")
