"""Dispatch and proof of delivery through allocation's API, in-process on real PostgreSQL
and Kafka: errors as problems, 409s, province scoping, Idempotency-Key, the national list
of discrepancies and the 7-day lead time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

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

pytestmark = pytest.mark.integration

LINE = line(1, 811_200, lots=(lot("A1", 120_000), lot("A2", 691_200, days=300)))
NUMBER = domain.notice_number_for(domain.round_id_for(SHIPMENT), "01", 1)
NOTICE = f"/api/v1/provinces/01/notices/{NUMBER}"
Served = tuple[httpx.AsyncClient, Settings]


@pytest.fixture
async def allocation(database: str, kafka: KafkaBroker, pool: Any) -> AsyncIterator[Served]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("allocation", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(main.SPEC, settings, main.ROUTERS)) as client:
        decide = draft_for(cleared((LINE,)), NOW)  # the fast track: approved automatically
        handler = allocations_in(EventStore("allocation"))
        await run(pool, lambda conn: handler.handle(conn, str(SHIPMENT), decide, METADATA))
        yield client, settings


async def call(
    served: Served, user: str, path: str, body: Any = None, key: str | None = None
) -> httpx.Response:
    client, settings = served
    headers = bearer(user, settings) | ({"Idempotency-Key": key} if key else {})
    if body is None:
        return await client.get(path, headers=headers)
    return await client.post(path, json=body, headers=headers)


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if code:
        assert body["type"].endswith("/" + code), body
    return body


def receipt(notice: dict[str, Any], short: int = 0) -> dict[str, Any]:
    lots = []
    for index, sent in enumerate(notice["dispatched_lots"]):
        miss = short if index == 0 else 0
        rejections = [{"reason": "short", "quantity": miss, "note": "one box missing"}]
        lots.append(
            {
                "lot_number": sent["lot_number"],
                "counted": sent["quantity"],
                "accepted": sent["quantity"] - miss,
                "rejections": rejections if miss else [],
            }
        )
    return {"lots": lots}


DISPATCH = {"carrier": "VNPost cold truck 29C-12345"}


async def test_dispatch_then_receipt_with_a_discrepancy_is_visible_nationally(
    allocation: Served,
) -> None:
    problem(await call(allocation, "province-01", f"{NOTICE}/receipt", {"lots": []}), 422)
    dispatched = await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH, key="d-1")
    assert dispatched.status_code == 200, dispatched.text
    notice = dispatched.json()
    assert notice["status"] == "dispatched" and notice["carrier"] == DISPATCH["carrier"]
    assert sum(x["quantity"] for x in notice["dispatched_lots"]) == notice["quantity"]
    again = await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH, key="d-1")
    assert again.json() == notice  # the same key: the first answer
    problem(
        await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH, key="d-2"),
        409,
        "already-dispatched",
    )

    received = await call(allocation, "province-01", f"{NOTICE}/receipt", receipt(notice, 30))
    assert received.status_code == 200, received.text
    body = received.json()
    assert body["status"] == "received_with_discrepancies" and body["rejected_quantity"] == 30
    assert body["lead_time_seconds"] > 0 and body["within_target"] is False  # released 2021
    problem(
        await call(allocation, "province-01", f"{NOTICE}/receipt", receipt(notice)),
        409,
        "already-received",
    )

    listed = await call(allocation, "viewer", "/api/v1/discrepancies")
    assert [n["notice_number"] for n in listed.json()["items"]] == [NUMBER]
    problem(await call(allocation, "province-01", "/api/v1/discrepancies"), 403)
    lead = (await call(allocation, "viewer", "/api/v1/lead-times")).json()
    assert lead["received"] == 1 and lead["within_target"] == 0


async def test_receipt_before_dispatch_is_a_conflict(allocation: Served) -> None:
    fake = {"lots": [{"lot_number": "A1", "counted": 1, "accepted": 1}]}
    problem(await call(allocation, "province-01", f"{NOTICE}/receipt", fake), 409, "not-dispatched")


async def test_provinces_and_roles_are_scoped(allocation: Served) -> None:
    await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH)
    notice = (await call(allocation, "province-01", NOTICE)).json()
    # another province's officer, on its own path or on Ha Noi's
    problem(await call(allocation, "province-79", f"{NOTICE}/receipt", receipt(notice)), 403)
    elsewhere = f"/api/v1/provinces/79/notices/{NUMBER}/receipt"
    problem(await call(allocation, "province-79", elsewhere, receipt(notice)), 404)
    # the province cannot dispatch, the store cannot receive
    problem(await call(allocation, "province-01", f"{NOTICE}/dispatch", DISPATCH), 403)
    problem(await call(allocation, "store.nepi", f"{NOTICE}/receipt", receipt(notice)), 403)
    problem(
        await call(allocation, "store.nepi", "/api/v1/provinces/XX/notices/N-1/dispatch", DISPATCH),
        404,
    )


async def test_bad_input_is_a_problem_per_field(allocation: Served) -> None:
    bad = {"carrier": "", "lots": [{"lot_number": "A1", "quantity": -1}]}
    body = problem(await call(allocation, "store.nepi", f"{NOTICE}/dispatch", bad), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"carrier", "lots/0/quantity"} <= fields, fields
    wrong_total = {"carrier": "truck", "lots": [{"lot_number": "A1", "quantity": 10}]}
    body = problem(
        await call(allocation, "store.nepi", f"{NOTICE}/dispatch", wrong_total),
        422,
        "lots-do-not-add-up",
    )
    future = DISPATCH | {"dispatched_at": "2999-01-01T00:00:00+07:00"}
    problem(await call(allocation, "store.nepi", f"{NOTICE}/dispatch", future), 422, "future-time")
    await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH)
    notice = (await call(allocation, "province-01", NOTICE)).json()
    lying = receipt(notice)
    lying["lots"][0]["accepted"] -= 1  # accepted + rejected != counted
    body = problem(await call(allocation, "province-01", f"{NOTICE}/receipt", lying), 422)
    assert body["errors"][0]["field"].startswith("lots/0")
    vvm = receipt(notice, 5)
    vvm["lots"][0]["rejections"][0]["reason"] = "vvm_discard_point"
    problem(await call(allocation, "province-01", f"{NOTICE}/receipt", vvm), 422)
    status = (await call(allocation, "province-01", NOTICE)).json()["status"]
    assert status == "dispatched"  # nothing half-written
