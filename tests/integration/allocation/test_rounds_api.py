"""The list of rounds through allocation's API, in-process on real PostgreSQL and Kafka:
every round reachable page by page with ``before``, none twice, and a bad page a problem."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.allocation import main
from services.allocation.application import allocations_in
from services.allocation.commands import draft_for
from shared.eventstore import EventStore
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from tests.integration.apps import bearer, serving, settings_for
from tests.integration.layers import METADATA, run
from tests.unit.builders import NOW, cleared, line

pytestmark = pytest.mark.integration

ROUNDS = 5  # each drafted at NOW: their order among themselves is by round id


@pytest.fixture
async def rounds(database: str, kafka: KafkaBroker, pool: asyncpg.Pool) -> AsyncIterator[Any]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, [f"{prefix}.allocation.events"])
    settings = settings_for("allocation", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(main.SPEC, settings, main.ROUTERS)) as client:
        handler = allocations_in(EventStore("allocation"))
        for n in range(ROUNDS):
            shipment = uuid.UUID(int=n + 1)
            command = draft_for(cleared((line(1, 811_200),), shipment), NOW)
            await run(pool, lambda c, s=shipment, d=command: handler.handle(c, str(s), d, METADATA))

        async def get(**params: Any) -> httpx.Response:
            headers = bearer("allocation.moh", settings)
            return await client.get("/api/v1/rounds", params=params, headers=headers)

        yield get


async def test_every_round_is_reached_page_by_page_newest_first(rounds: Any) -> None:
    seen: list[str] = []
    page = (await rounds(limit=2)).json()
    for _ in range(ROUNDS):  # bounded: a page that never ends fails, it does not hang
        if not page:
            break
        assert len(page) <= 2
        seen += [r["round_id"] for r in page]
        page = (await rounds(limit=2, before=seen[-1])).json()
    assert page == []
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == ROUNDS

    approved = (await rounds(status="approved", before=seen[1])).json()
    assert [r["round_id"] for r in approved] == seen[2:]


async def test_a_page_after_an_unknown_round_is_a_problem(rounds: Any) -> None:
    response = await rounds(before="R-NOSUCHROUND")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/round-not-found")
    assert (await rounds(before="R-1;DROP")).status_code == 422  # not a round id at all
