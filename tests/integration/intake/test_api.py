"""The intake API in-process on real PostgreSQL and Kafka: bad input, idempotency, listing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.intake import api, pages
from services.intake.main import SPEC
from shared.db import create_pool
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.retention import shared_sweeps, sweep
from shared.settings import Settings, all_topics
from tests.e2e.flows import arrival_of, vaccine_consignment
from tests.integration.apps import bearer, serving, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake(
    database: str, kafka: KafkaBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("intake", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        yield client, settings


async def _announce(
    client: httpx.AsyncClient,
    settings: Settings,
    body: dict[str, Any],
    key: str | None = None,
    user: str = "intake.han",
) -> httpx.Response:
    headers = bearer(user, settings) | ({"Idempotency-Key": key} if key else {})
    return await client.post("/api/v1/shipments", json=body, headers=headers)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


async def test_a_retry_with_the_same_key_returns_the_first_result(intake: Any) -> None:
    client, settings = intake
    body = vaccine_consignment("618-55512340")
    first = await _announce(client, settings, body, key="k-1")
    again = await _announce(client, settings, body, key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = await client.get("/api/v1/shipments", headers=bearer("intake.han", settings))
    assert [s["airway_bill"] for s in listed.json()["items"]] == ["618-55512340"]

    other = await _announce(client, settings, vaccine_consignment("618-55512341"), key="k-1")
    _problem(other, 422)
    without_key = await _announce(client, settings, body)
    assert _problem(without_key, 409)["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(airport="XXX"), "airport"),
        (lambda b: b["lines"][0]["lots"][0].update(quantity=1), "lines"),
        (lambda b: b["lines"][0]["lots"][0].update(expiry_date="2020-01-01"), "lines"),
        (lambda b: b["lines"][0].update(quantity=-5), "lines/0/quantity"),
        (lambda b: b.update(channel="smuggling"), "channel"),
        (lambda b: b.pop("donor"), "donor"),
    ],
)
async def test_bad_input_gets_a_problem_and_changes_nothing(
    intake: Any, change: Any, field: str
) -> None:
    client, settings = intake
    body = vaccine_consignment("618-55512342")
    change(body)
    problem = _problem(await _announce(client, settings, body), 422)
    assert any(e["field"] and e["field"].startswith(field) for e in problem["errors"]), problem
    listed = await client.get("/api/v1/shipments", headers=bearer("intake.han", settings))
    assert listed.json()["items"] == []


async def test_a_second_arrival_is_refused(intake: Any) -> None:
    client, settings = intake
    shipment = (await _announce(client, settings, vaccine_consignment("618-55512343"))).json()
    path = f"/api/v1/shipments/{shipment['shipment_id']}/arrival"
    headers = bearer("intake.han", settings)
    first = await client.post(path, json=arrival_of(shipment), headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "arrived"
    _problem(await client.post(path, json=arrival_of(shipment), headers=headers), 409)
    missing = f"/api/v1/shipments/{uuid.uuid4()}/arrival"
    _problem(await client.post(missing, json=arrival_of(shipment), headers=headers), 404)


async def test_list_pages_with_a_cursor(intake: Any) -> None:
    client, settings = intake
    for n in range(5):
        assert (
            await _announce(client, settings, vaccine_consignment(f"618-9000000{n}"))
        ).status_code == 201
    headers = bearer("intake.han", settings)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/shipments", params=params, headers=headers)).json()
        seen += [s["airway_bill"] for s in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == [f"618-9000000{n}" for n in range(5)]
    assert len(seen) == 5
    _problem(await client.get("/api/v1/shipments", params={"cursor": "zz"}, headers=headers), 422)


async def test_health_and_metrics(intake: Any) -> None:
    client, settings = intake
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert {n: c["status"] for n, c in ready.json()["components"].items()} == {
        "database": "ok",
        "broker": "ok",
        "relay": "ok",
        "consumer": "ok",
    }
    assert (await client.get("/metrics")).status_code == 401  # admins only on this port
    metrics = (await client.get("/metrics", headers=bearer("admin", settings))).text
    for name in (
        "aidport_relay_backlog_events",
        "aidport_http_request_duration_seconds",
        "aidport_relay_oldest_unpublished_age_seconds",
    ):
        assert name in metrics


async def test_a_key_older_than_its_retention_is_forgotten_and_then_acts_anew(
    intake: Any, database: str
) -> None:
    client, settings = intake
    old, recent = vaccine_consignment("618-55512351"), vaccine_consignment("618-55512352")
    first = await _announce(client, settings, old, key="old-key")
    assert (await _announce(client, settings, recent, key="recent-key")).status_code == 201
    pool = await create_pool(database, max_size=2)
    try:
        await pool.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '8 days'"
            " WHERE key = 'old-key'"
        )
        keys = next(s for s in shared_sweeps(settings) if s.name == "idempotency keys")
        assert keys.keep == timedelta(days=7)
        assert await sweep(pool, keys, batch=1) == 1
        kept = await pool.fetch("SELECT key FROM idempotency_keys")
        assert [r["key"] for r in kept] == ["recent-key"]
    finally:
        await pool.close()
    # A new request now, not a replay of the first answer: the airway bill is taken.
    again = await _announce(client, settings, old, key="old-key")
    assert first.status_code == 201 and _problem(again, 409)["detail"]
