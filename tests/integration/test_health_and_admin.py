"""Readiness tells the truth, and the admin API and page show what did not go through.

The customs service in-process (it consumes intake's topic and runs a relay), on the real
broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.customs import api, pages
from services.customs.main import SPEC
from shared.eventstore import EventStore
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import Settings, all_topics, topic_of
from tests.e2e.stack import until
from tests.integration.apps import bearer, serving, settings_for
from tests.sample_events import ping

pytestmark = pytest.mark.integration


async def _customs(
    database: str, kafka: KafkaBroker, topics: bool = True, **options: Any
) -> tuple[FastAPI, Settings]:
    prefix = f"ha{uuid.uuid4().hex[:6]}"
    if topics:
        await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("customs", database, kafka.bootstrap_servers, prefix)
    settings = settings.model_copy(update=options)
    return create_app(SPEC, settings, [api.router, pages.router]), settings


@pytest.fixture
async def customs(
    database: str, kafka: KafkaBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings, FastAPI]]:
    app, settings = await _customs(database, kafka)
    async with serving(app) as client:
        yield client, settings, app


async def _ready(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/health/ready")
    return response.status_code, response.json()["components"]


async def test_dead_letters_are_listed_shown_and_retried_by_an_admin_only(
    customs: tuple[httpx.AsyncClient, Settings, FastAPI], kafka: KafkaBroker
) -> None:
    client, settings, _ = customs
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic_of("intake", settings.topic_prefix), b"{nope", key=b"k")
    finally:
        await producer.stop()
    admin = bearer("admin", settings)

    async def listed() -> list[dict[str, Any]]:
        response = await client.get("/admin/dead-letters", headers=admin)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    [letter] = await until(listed, timeout=60)
    assert "missing CloudEvents headers" in letter["reason"] and letter["dlq_published"]

    page = await client.get("/admin", headers=admin)
    assert page.status_code == 200 and "missing CloudEvents headers" in page.text
    assert (await client.get("/admin", headers=bearer("customs.han", settings))).status_code == 403
    forbidden = await client.get("/admin/dead-letters", headers=bearer("customs.han", settings))
    assert forbidden.status_code == 403

    retried = await client.post(f"/admin/dead-letters/{letter['id']}/retry", headers=admin)
    assert retried.json() == {
        "id": letter["id"],
        "resolved": False,
        "reason": retried.json()["reason"],
    }
    missing = await client.post("/admin/dead-letters/999999/retry", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await client.get("/admin/quarantine", headers=admin)).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (await client.post("/admin/quarantine/1/retry", headers=admin)).status_code == 404
    status, components = await _ready(client)
    assert status == 200, components


async def test_a_dead_consumer_task_makes_readiness_fail(
    customs: tuple[httpx.AsyncClient, Settings, FastAPI],
) -> None:
    client, _, app = customs
    assert (await _ready(client))[0] == 200
    task = app.state.runtime._tasks["consumer"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    status, components = await _ready(client)
    assert status == 503
    assert components["consumer"] == {"status": "failing", "reason": "the consumer task is dead"}
    assert components["database"]["status"] == components["broker"]["status"] == "ok"


async def test_a_consumer_stuck_on_one_batch_makes_readiness_fail_until_it_moves(
    database: str, kafka: KafkaBroker
) -> None:
    app, settings = await _customs(database, kafka, consumer_stuck_seconds=1.0)
    async with serving(app) as client:
        runtime = app.state.runtime
        await until(lambda: _true(runtime.consumer.ready.is_set()), timeout=60)
        blocker = await asyncpg.connect(database)
        try:
            async with blocker.transaction():  # the batch cannot store its offsets
                await blocker.execute("LOCK TABLE consumer_offsets IN EXCLUSIVE MODE")
                producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
                await producer.start()
                try:
                    topic = topic_of("intake", settings.topic_prefix)
                    await producer.send_and_wait(topic, b"{nope", key=b"k")
                finally:
                    await producer.stop()

                async def consumer_failing() -> dict[str, Any] | None:
                    status, components = await _ready(client)
                    return components if status == 503 else None

                components = await until(consumer_failing, timeout=60)
                assert components["consumer"]["status"] == "failing"
                assert components["consumer"]["reason"].startswith("stuck: one batch")
        finally:
            await blocker.close()

        async def ready_again() -> bool:
            return (await _ready(client))[0] == 200

        await until(ready_again, timeout=60)


async def _true(value: bool) -> bool:
    return value


async def test_a_relay_that_cannot_publish_makes_readiness_fail(
    database: str, kafka: KafkaBroker
) -> None:
    # No topics: the relay cannot publish the event below (nor can it be quarantined).
    app, _ = await _customs(database, kafka, topics=False, relay_stuck_seconds=1.0)
    async with serving(app) as client:
        runtime = app.state.runtime
        async with runtime.pool.acquire() as conn, conn.transaction():
            stream = uuid.uuid4()
            await EventStore("customs").append(conn, str(stream), 0, [ping(stream)])

        async def relay_failing() -> dict[str, Any] | None:
            status, components = await _ready(client)
            return components if status == 503 else None

        components = await until(relay_failing, timeout=30)
        assert components["relay"]["status"] == "failing"
        assert (
            "stuck" in components["relay"]["reason"] or "failing" in components["relay"]["reason"]
        )


async def test_an_unreachable_database_makes_readiness_fail(
    postgres: EmbeddedPostgres, kafka: KafkaBroker
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    app, _ = await _customs(postgres.database_url(name), kafka)
    async with serving(app) as client:
        assert (await _ready(client))[0] == 200
        admin_conn = await asyncpg.connect(postgres.database_url("postgres"))
        try:
            await admin_conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin_conn.close()
        status, components = await _ready(client)
        assert status == 503
        assert components["database"] == {"status": "failing", "reason": "not reachable"}
