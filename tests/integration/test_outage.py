"""A database outage answers 503 problem+json with Retry-After, never 500, and the service
serves again once the database is back (on its own PostgreSQL server, stopped and started
again by the test); so does a database too slow to answer."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.customs import api, pages
from services.customs.main import SPEC
from services.intake import api as intake_api
from services.intake import pages as intake_pages
from services.intake.main import SPEC as INTAKE
from shared.http.app import create_app
from shared.http.problems import PROBLEM_JSON
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import Settings, all_topics
from tests.e2e.flows import vaccine_consignment
from tests.integration.apps import bearer, serving, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's tmp_path: that folder's owner and mode are not the server's concern.
    folder = Path(tempfile.mkdtemp(prefix="aidport-outage-"))
    server = EmbeddedPostgres(folder / "data")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_database_outage_is_a_503_with_retry_after(
    own_postgres: EmbeddedPostgres, kafka: KafkaBroker
) -> None:
    own_postgres.create_database("customs")
    prefix = f"out{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for(
        "customs", own_postgres.database_url("customs"), kafka.bootstrap_servers, prefix
    )
    headers = bearer("customs.han", settings)
    queue = "/api/v1/clearances"
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        assert (await client.get(queue, headers=headers)).status_code == 200

        await asyncio.to_thread(own_postgres.stop)
        for _ in range(3):  # broken pooled connections first, then refused new ones
            down = await client.get(queue, headers=headers)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == PROBLEM_JSON
            assert int(down.headers["retry-after"]) > 0
            assert down.json()["status"] == 503
        case = await client.get(f"{queue}/{uuid.uuid4()}", headers=headers)
        assert case.status_code == 503, case.text

        await asyncio.to_thread(own_postgres.start)
        back = await client.get(queue, headers=headers)
        assert back.status_code == 200, back.text


@dataclass
class SlowIntake:
    """Intake with a statement timeout of one second, and a connection to its database."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    blocker: asyncpg.Connection


@pytest.fixture
async def slow_intake(database: str, kafka: KafkaBroker) -> AsyncIterator[SlowIntake]:
    prefix = f"slow{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("intake", database, kafka.bootstrap_servers, prefix)
    settings = settings.model_copy(update={"db_statement_timeout_seconds": 1.0})
    app = create_app(INTAKE, settings, [intake_api.router, intake_pages.router])
    async with serving(app) as client:
        blocker = await asyncpg.connect(database)
        try:
            yield SlowIntake(app, client, settings, blocker)
        finally:
            await blocker.close()


async def test_a_command_stuck_behind_a_lock_is_a_503_and_writes_nothing(
    slow_intake: SlowIntake,
) -> None:
    """A statement that waits longer than AIDPORT_DB_STATEMENT_TIMEOUT_SECONDS is cancelled
    by PostgreSQL: the request answers 503 instead of hanging, its transaction is rolled
    back, and the same request retried with its key once the lock is gone succeeds once."""
    client, blocker = slow_intake.client, slow_intake.blocker
    headers = bearer("intake.han", slow_intake.settings) | {"Idempotency-Key": "slow-1"}
    body = vaccine_consignment("618-77700001")
    async with blocker.transaction():
        await blocker.execute("LOCK TABLE shipments IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        async with asyncio.timeout(60):  # without the timeout it would never answer
            stuck = await client.post("/api/v1/shipments", json=body, headers=headers)
        waited = time.monotonic() - started
    assert stuck.status_code == 503, stuck.text
    assert stuck.headers["content-type"] == PROBLEM_JSON
    assert stuck.json()["type"].endswith("/database-busy")
    assert int(stuck.headers["retry-after"]) > 0
    assert waited < 30  # cancelled, not waiting for the lock's holder
    assert await blocker.fetchval("SELECT count(*) FROM events") == 0
    assert await blocker.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    first = await client.post("/api/v1/shipments", json=body, headers=headers)
    again = await client.post("/api/v1/shipments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()
    reader = bearer("intake.han", slow_intake.settings)
    listed = await client.get("/api/v1/shipments", headers=reader)
    assert [s["airway_bill"] for s in listed.json()["items"]] == ["618-77700001"]


async def test_an_operators_rebuild_waits_for_its_lock_past_the_statement_timeout(
    slow_intake: SlowIntake,
) -> None:
    runtime, blocker = slow_intake.app.state.runtime, slow_intake.blocker
    async with blocker.transaction():
        await blocker.execute("LOCK TABLE shipments IN ACCESS EXCLUSIVE MODE")
        rebuild = asyncio.create_task(runtime.rebuild_projections())
        await asyncio.sleep(2.5)  # longer than the timeout of the API's statements
        assert not rebuild.done()
    async with asyncio.timeout(60):
        assert await rebuild == 0  # nothing recorded: the point is that it was not cancelled
