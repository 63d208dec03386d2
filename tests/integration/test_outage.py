"""A database outage answers 503 problem+json with Retry-After, never 500, and the service
serves again once the database is back. Runs on its own PostgreSQL server, stopped and
started again by the test."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.customs import api, pages
from services.customs.main import SPEC
from shared.http.app import create_app
from shared.http.problems import PROBLEM_JSON
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import all_topics
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
