"""Hostile input at intake's edge, on real PostgreSQL and Kafka: the largest command is
accepted and published, one lot more is refused; oversize bodies, control characters,
implausible dates and garbage cursors get a 4xx problem and change nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from services.intake import api, pages
from services.intake.main import SPEC
from shared.contracts.limits import DEFAULT_MAX_EVENT_BYTES
from shared.http.app import create_app
from shared.http.problems import PROBLEM_JSON
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics
from tests.e2e.flows import vaccine_consignment
from tests.integration.apps import bearer, serving, settings_for
from tests.integration.kit import eventually
from tests.kafka_helpers import read_topic
from tests.unit.test_limits import largest_body

pytestmark = pytest.mark.integration
SHIPMENTS = "/api/v1/shipments"
Intake = tuple[httpx.AsyncClient, Settings]


@asynccontextmanager
async def intake_app(
    database: str, kafka: KafkaBroker, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    config = settings_for("intake", database, kafka.bootstrap_servers, prefix)
    config = config.model_copy(update=settings)
    async with serving(create_app(SPEC, config, [api.router, pages.router])) as client:
        yield client, config


@pytest.fixture
async def intake(database: str, kafka: KafkaBroker) -> AsyncIterator[Intake]:
    async with intake_app(database, kafka) as served:
        yield served


async def stored_events(database: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT event_type, data::text AS data FROM events")
        return [dict(row) for row in rows]
    finally:
        await conn.close()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


async def test_the_largest_command_is_stored_and_published(
    intake: Intake, database: str, kafka: KafkaBroker
) -> None:
    client, settings = intake
    headers = bearer("intake.han", settings)
    response = await client.post(SHIPMENTS, json=largest_body(), headers=headers)
    assert response.status_code == 201, response.text[:500]
    (event,) = await stored_events(database)
    data = json.loads(event["data"])
    assert len(json.dumps(data)) < DEFAULT_MAX_EVENT_BYTES

    async def published() -> bool:
        return len(await read_topic(kafka.bootstrap_servers, settings.topic)) == 1

    await eventually(published)  # the broker took it: the relay is not stuck on it


async def test_one_lot_more_is_refused_and_nothing_is_stored(intake: Intake, database: str) -> None:
    client, settings = intake
    body = largest_body()
    last = body["lines"][-1]
    last["lots"].append(dict(last["lots"][0], lot_number="ONE-MORE", quantity=1))
    last["lots"][0]["quantity"] -= 1
    refused = problem(
        await client.post(SHIPMENTS, json=body, headers=bearer("intake.han", settings)), 422
    )
    assert fields(refused) == ["lines"] and "500 lots" in refused["detail"]
    assert await stored_events(database) == []


async def test_an_event_over_the_store_limit_is_refused_with_a_413(
    database: str, kafka: KafkaBroker
) -> None:
    async with intake_app(database, kafka, max_event_bytes=1024) as (client, settings):
        body = vaccine_consignment("618-70000001")
        body["donor"] = "D" * 200
        body["consignee"] = "C" * 200
        headers = bearer("intake.han", settings)
        refused = problem(await client.post(SHIPMENTS, json=body, headers=headers), 413)
        assert "1024 bytes" in refused["detail"]
    assert await stored_events(database) == []


async def oversize_chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 65536 + 1):
        yield b" " * 65536


@pytest.mark.parametrize(
    "content",
    [lambda: b" " * (1024 * 1024 + 1), lambda: oversize_chunks(2 * 1024 * 1024)],
    ids=["content-length", "chunked"],
)
async def test_an_oversize_body_is_refused_before_authentication(
    intake: Intake, database: str, content: Callable[[], Any]
) -> None:
    client, settings = intake
    for headers in ({}, bearer("intake.han", settings)):
        response = await client.post(
            SHIPMENTS, content=content(), headers=headers | {"content-type": "application/json"}
        )
        assert "1048576 bytes" in problem(response, 413)["detail"]
    assert await stored_events(database) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(donor="COVAX\u0000"), "donor"),
        (lambda b: b.update(consignee="NIHE\u0007"), "consignee"),
        (lambda b: b["lines"][0].update(product="Vaxzevria\u0000"), "lines/0/product"),
        (
            lambda b: b["lines"][0]["lots"][0].update(lot_number="A\u0000"),
            "lines/0/lots/0/lot_number",
        ),
        (lambda b: b["lines"][0].update(quantity=10**30), "lines/0/quantity"),
        (lambda b: b.update(expected_arrival="9999-12-31T00:00:00+00:00"), "expected_arrival"),
        (
            lambda b: b["lines"][0]["lots"][0].update(expiry_date="9999-12-31"),
            "lines/0/lots/0/expiry_date",
        ),
    ],
)
async def test_hostile_fields_get_a_422_naming_the_field(
    intake: Intake, database: str, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    client, settings = intake
    body = vaccine_consignment("618-70000002")
    change(body)
    headers = bearer("intake.han", settings)
    refused = problem(await client.post(SHIPMENTS, json=body, headers=headers), 422)
    assert field in fields(refused), refused
    assert await stored_events(database) == []
    listed = await client.get(SHIPMENTS, params={"airport": "HAN"}, headers=headers)
    assert listed.status_code == 200 and listed.json()["items"] == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("airport=HA%00N", 400),
        ("cursor=%00", 400),
        ("status=new%0A", 400),
        ("airport=HANOI", 422),
        ("limit=99999999999999999999", 422),
        ("cursor=" + "A" * 600, 422),
        ("cursor=WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTE0OjAwIiwiMSJd", 422),  # year 10000 in UTC, no uuid
        ("cursor=WyJ4IiwieSJd", 422),  # ["x","y"]
    ],
)
async def test_hostile_query_parameters_get_a_4xx(intake: Intake, query: str, status: int) -> None:
    client, settings = intake
    response = await client.get(f"{SHIPMENTS}?{query}", headers=bearer("intake.han", settings))
    problem(response, status)
