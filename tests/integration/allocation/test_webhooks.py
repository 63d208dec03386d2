"""Signed webhooks on real PostgreSQL and Kafka, to a real receiver on 127.0.0.1 that
verifies every signature with the ``standardwebhooks`` library."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.allocation import domain, main
from services.allocation.application import allocations_in
from services.allocation.commands import draft_for
from shared.eventstore import EventStore
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics
from tests.integration.apps import bearer, serving, settings_for
from tests.integration.layers import METADATA, run
from tests.unit.builders import NOW, SHIPMENT, cleared, line, lot
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.integration

LINE = line(1, 811_200, lots=(lot("A1", 120_000), lot("A2", 691_200, days=300)))
NUMBER = domain.notice_number_for(domain.round_id_for(SHIPMENT), "01", 1)
HOOKS = "/api/v1/provinces/01/webhooks"
Served = tuple[httpx.AsyncClient, Settings]


@pytest.fixture
async def allocation(
    database: str, kafka: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Served]:
    monkeypatch.setenv("AIDPORT_WEBHOOK_POLL_SECONDS", "0.05")
    monkeypatch.setenv("AIDPORT_WEBHOOK_RETRY_BASE_SECONDS", "0.2")
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("allocation", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(main.SPEC, settings, main.ROUTERS)) as client:
        yield client, settings


async def call(
    served: Served, user: str, method: str, path: str, body: Any = None, **headers: str
) -> httpx.Response:
    client, settings = served
    return await client.request(method, path, json=body, headers=bearer(user, settings) | headers)


async def allocate(pool: asyncpg.Pool) -> None:
    decide = draft_for(cleared((LINE,)), NOW)  # the fast track: approved automatically
    handler = allocations_in(EventStore("allocation"))
    await run(pool, lambda conn: handler.handle(conn, str(SHIPMENT), decide, METADATA))


async def register(served: Served, url: str, user: str = "province-01") -> dict[str, Any]:
    response = await call(served, user, "POST", HOOKS, {"url": url, "description": "cold store"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def eventually(probe: Any, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await probe()):
            await asyncio.sleep(0.05)
        return found


async def test_notices_and_dispatches_arrive_signed(allocation: Served, database: str) -> None:
    async with receiving() as receiver:
        hook = await register(allocation, receiver.url)
        assert hook["secret"].startswith("whsec_")
        listed = (await call(allocation, "province-01", "GET", HOOKS)).json()
        assert [h["endpoint_id"] for h in listed] == [hook["endpoint_id"]]
        assert "secret" not in listed[0]

        pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
        try:
            await allocate(pool)
            dispatch = {"carrier": "VNPost cold truck"}
            path = f"/api/v1/provinces/01/notices/{NUMBER}/dispatch"
            assert (await call(allocation, "store.nepi", "POST", path, dispatch)).is_success
            await eventually(lambda: _delivered(receiver, 2))
            secret_sealed = await pool.fetchval("SELECT secret FROM webhook_endpoints")
        finally:
            await pool.close()

    assert hook["secret"].encode() not in bytes(secret_sealed)  # sealed at rest
    verifier = Webhook(hook["secret"])
    payloads = [verifier.verify(r.body, r.headers) for r in receiver.requests]
    assert [p["type"] for p in payloads] == [
        "aidport.allocation.AllocatedToProvince.v1",
        "aidport.allocation.NoticeDispatched.v1",
    ]
    assert {p["data"]["notice_number"] for p in payloads} == {NUMBER}
    assert all(r.headers["webhook-id"] for r in receiver.requests)
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 43).verify(receiver.requests[0].body, receiver.requests[0].headers)

    deliveries = await call(
        allocation, "province-01", "GET", f"{HOOKS}/{hook['endpoint_id']}/deliveries"
    )
    assert {d["status"] for d in deliveries.json()} == {"delivered"}
    log = await call(allocation, "province-01", "GET", f"{HOOKS}/{hook['endpoint_id']}/attempts")
    assert [a["status_code"] for a in log.json()] == [200, 200]


async def _delivered(receiver: Receiver, count: int) -> bool:
    return len(receiver.requests) >= count


async def test_a_failing_receiver_gets_retries_with_growing_delays_then_a_replay(
    allocation: Served, database: str
) -> None:
    async with receiving(status=503) as receiver:
        hook = await register(allocation, receiver.url)
        attempts_path = f"{HOOKS}/{hook['endpoint_id']}/attempts"
        pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
        try:
            await allocate(pool)
        finally:
            await pool.close()

        async def four_attempts() -> list[dict[str, Any]] | None:
            log = (await call(allocation, "province-01", "GET", attempts_path)).json()
            return log if len(log) >= 4 else None

        log = list(reversed(await eventually(four_attempts)))[:4]
        assert [a["attempt"] for a in log] == [1, 2, 3, 4]
        assert {a["status_code"] for a in log} == {503}
        delays = [_seconds(a["next_attempt_at"]) - _seconds(a["attempted_at"]) for a in log]
        assert delays == sorted(delays) and delays[-1] > delays[0]  # backing off
        ids = {r.headers["webhook-id"] for r in receiver.requests}
        assert len(ids) == 1  # every retry is the same message

        receiver.status = 204
        replay = await call(
            allocation,
            "province-01",
            "POST",
            f"{HOOKS}/{hook['endpoint_id']}/replay",
            {"after_position": 0},
        )
        assert replay.status_code == 202 and replay.json() == {"replayed": 1}

        async def delivered() -> bool:
            listed = await call(
                allocation, "province-01", "GET", f"{HOOKS}/{hook['endpoint_id']}/deliveries"
            )
            return [d["status"] for d in listed.json()] == ["delivered"]

        await eventually(delivered)
        assert {r.headers["webhook-id"] for r in receiver.requests} == ids


def _seconds(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()


async def test_registration_rules_and_province_scoping(allocation: Served) -> None:
    plain = await call(allocation, "province-01", "POST", HOOKS, {"url": "http://example.org/h"})
    assert plain.status_code == 422 and plain.json()["type"].endswith("/https-required")
    private = await call(allocation, "province-01", "POST", HOOKS, {"url": "https://user:pw@x.org"})
    assert private.status_code == 422
    other = await call(allocation, "province-79", "POST", HOOKS, {"url": "https://x.org/h"})
    assert other.status_code == 403
    store = await call(allocation, "store.nepi", "POST", HOOKS, {"url": "https://x.org/h"})
    assert store.status_code == 403

    first = await call(
        allocation,
        "province-01",
        "POST",
        HOOKS,
        {"url": "https://x.org/h"},
        **{"Idempotency-Key": "hook-1"},
    )
    again = await call(
        allocation,
        "province-01",
        "POST",
        HOOKS,
        {"url": "https://x.org/h"},
        **{"Idempotency-Key": "hook-1"},
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["secret"].startswith("whsec_") and again.json()["secret"] is None
    assert first.json()["endpoint_id"] == again.json()["endpoint_id"]

    endpoint = first.json()["endpoint_id"]
    elsewhere = await call(
        allocation, "province-79", "GET", f"/api/v1/provinces/79/webhooks/{endpoint}"
    )
    assert elsewhere.status_code == 404
    deleted = await call(allocation, "province-01", "DELETE", f"{HOOKS}/{endpoint}")
    assert deleted.status_code == 200 and deleted.json()["deleted_at"]
    assert (await call(allocation, "province-01", "GET", HOOKS)).json() == []
