"""From the aircraft to the province's cold store, through the public APIs of three service
processes on real Kafka and PostgreSQL: notices acknowledged, dispatched, received with a
discrepancy that the country sees; and signed webhooks delivered at least once across a
crash of the allocation service mid-delivery."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.flows import announce_and_arrive, fast_track
from tests.e2e.stack import Stack, until
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.e2e


async def _notice(
    stack: Stack, client: httpx.AsyncClient, code: str, shipment_id: str
) -> dict[str, Any] | None:
    response = await stack.call(
        client, f"province-{code}", "GET", "allocation", f"/api/v1/provinces/{code}/notices"
    )
    mine = [n for n in response.json()["items"] if n["shipment_id"] == shipment_id]
    return mine[0] if mine else None


async def test_a_notice_goes_from_issue_to_receipt_with_a_discrepancy(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announce_and_arrive(stack, client, "738-20000001")
        sid = shipment["shipment_id"]
        assert (await fast_track(stack, client, sid)).status_code == 200
        notice = await until(lambda: _notice(stack, client, "01", sid))
        assert notice["status"] == "issued" and notice["released_at"]
        path = f"/api/v1/provinces/01/notices/{notice['notice_number']}"

        ack = await stack.call(client, "province-01", "POST", "allocation", f"{path}/acknowledge")
        assert ack.json()["status"] == "acknowledged", ack.text
        early = await stack.call(
            client,
            "province-01",
            "POST",
            "allocation",
            f"{path}/receipt",
            json={"lots": [{"lot_number": "ABV5300", "counted": 1, "accepted": 1}]},
        )
        assert early.status_code == 409, early.text

        dispatched = await stack.call(
            client,
            "store.nepi",
            "POST",
            "allocation",
            f"{path}/dispatch",
            json={"carrier": "VNPost cold truck 29C-12345"},
            headers={"Idempotency-Key": "dispatch-01"},
        )
        assert dispatched.status_code == 200, dispatched.text
        sent = dispatched.json()["dispatched_lots"]
        assert sum(lot["quantity"] for lot in sent) == notice["quantity"]

        lots = [
            {
                "lot_number": lot["lot_number"],
                "counted": lot["quantity"],
                "accepted": lot["quantity"],
                "rejections": [],
            }
            for lot in sent
        ]
        lots[0]["accepted"] -= 20
        lots[0]["rejections"] = [
            {
                "reason": "temperature_excursion",
                "quantity": 20,
                "note": "logger showed 11 °C for 3 hours",
            }
        ]
        received = await stack.call(
            client, "province-01", "POST", "allocation", f"{path}/receipt", json={"lots": lots}
        )
        assert received.status_code == 200, received.text
        body = received.json()
        assert body["status"] == "received_with_discrepancies"
        assert body["rejected_quantity"] == 20 and body["within_target"] is True

        national = await stack.call(client, "viewer", "GET", "allocation", "/api/v1/discrepancies")
        assert [n["notice_number"] for n in national.json()["items"]] == [notice["notice_number"]]
        lead = await stack.call(client, "viewer", "GET", "allocation", "/api/v1/lead-times")
        assert lead.json()["received"] == 1 and lead.json()["within_target"] == 1


PROVINCES = ("01", "79", "48")


async def test_webhooks_are_delivered_at_least_once_across_a_crash(stack: Stack) -> None:
    stack.env |= {
        "AIDPORT_WEBHOOK_POLL_SECONDS": "0.1",
        "AIDPORT_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
        "AIDPORT_WEBHOOK_LEASE_SECONDS": "3",
        "AIDPORT_WEBHOOK_TIMEOUT_SECONDS": "120",
    }
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client, receiving() as receiver:
        receiver.hold = asyncio.Event()  # the first deliveries hang until the crash
        secrets: dict[str, str] = {}
        hooks: dict[str, str] = {}
        for code in PROVINCES:
            created = await stack.call(
                client,
                f"province-{code}",
                "POST",
                "allocation",
                f"/api/v1/provinces/{code}/webhooks",
                json={"url": f"{receiver.url}/{code}"},
            )
            assert created.status_code == 201, created.text
            secrets[code], hooks[code] = created.json()["secret"], created.json()["endpoint_id"]

        shipment = await announce_and_arrive(stack, client, "738-20000002")
        assert (await fast_track(stack, client, shipment["shipment_id"])).status_code == 200
        await until(lambda: _held(receiver))
        stack.stop("allocation", kill=True)  # mid-delivery: no answer was read
        held = Counter(r.headers["webhook-id"] for r in receiver.requests)
        receiver.hold.set()
        stack.start("allocation")

        async def all_delivered() -> dict[str, list[dict[str, Any]]] | None:
            found = {}
            for code in PROVINCES:
                response = await stack.call(
                    client,
                    f"province-{code}",
                    "GET",
                    "allocation",
                    f"/api/v1/provinces/{code}/webhooks/{hooks[code]}/deliveries",
                )
                found[code] = response.json()
                if not found[code] or any(d["status"] != "delivered" for d in found[code]):
                    return None
            return found

        deliveries = await until(all_delivered, timeout=90)

    for code in PROVINCES:
        mine = [r for r in receiver.requests if r.path == f"/hook/{code}"]
        for request in mine:  # every copy, the first and the redelivered, is signed
            Webhook(secrets[code]).verify(request.body, request.headers)
        ids = {d["event_id"] for d in deliveries[code]}
        assert {r.headers["webhook-id"] for r in mine} == ids  # each event at least once
    again = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert held and all(again[webhook_id] >= 2 for webhook_id in held)  # redelivered, same id
    bodies: dict[str, set[str]] = {}
    for request in receiver.requests:
        bodies.setdefault(request.headers["webhook-id"], set()).add(request.body)
    assert all(len(b) == 1 for b in bodies.values())  # a duplicate is the same message


async def _held(receiver: Any) -> bool:
    return receiver.holding >= 1
