"""From the aircraft to every province's inbox, through three service processes and Kafka."""

from __future__ import annotations

import time

import httpx
import pytest

from shared.reference_data import province_codes
from tests.e2e.flows import (
    allocation_round,
    announce_and_arrive,
    fast_track,
    inbox,
    vaccine_consignment,
)
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e


async def test_a_vaccine_consignment_reaches_every_province(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announce_and_arrive(stack, client, "738-10000001")
        shipment_id = shipment["shipment_id"]

        response = await fast_track(stack, client, shipment_id)
        assert response.status_code == 200, response.text
        cleared_at = time.perf_counter()
        cleared = sum(line["quantity"] for line in response.json()["cleared_lines"])

        round_ = await until(lambda: allocation_round(stack, client, shipment_id))
        notices = {}
        for code in province_codes():
            page = await until(lambda code=code: _notices_for(stack, client, code, shipment_id))
            notices[code] = page
        print(
            f"\nfast-track POST -> last notice in its inbox: "
            f"{time.perf_counter() - cleared_at:.2f}s"
        )

        line = round_["lines"][0]
        allocated = sum(n["quantity"] for ns in notices.values() for n in ns)
        assert allocated + line["reserve_quantity"] == cleared == 811_200
        assert len(notices) == 34 and all(len(ns) == 1 for ns in notices.values())
        assert all(n["quantity"] % 10 == 0 for ns in notices.values() for n in ns)


async def test_roles_and_scopes(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announce_and_arrive(stack, client, "738-10000002")
        assert (await fast_track(stack, client, shipment["shipment_id"])).status_code == 200
        await until(lambda: _notices_for(stack, client, "01", shipment["shipment_id"]))

        other = await inbox(stack, client, "79", as_user="province-01")
        assert other.status_code == 403
        assert other.headers["content-type"].startswith("application/problem+json")
        own = (await inbox(stack, client, "01")).json()["items"]
        assert own and {n["province_code"] for n in own} == {"01"}

        at_sgn = await stack.call(
            client,
            "intake.han",
            "POST",
            "intake",
            "/api/v1/shipments",
            json=vaccine_consignment("738-10000003", airport="SGN"),
        )
        assert at_sgn.status_code == 403

        anonymous = await client.get(f"{stack.url('customs')}/api/v1/clearances")
        assert anonymous.status_code == 401

        notice = own[0]["notice_number"]
        path = f"/api/v1/provinces/01/notices/{notice}/acknowledge"
        by_other = await stack.call(
            client, "province-79", "POST", "allocation", path.replace("/01/", "/79/")
        )
        assert by_other.status_code in (403, 404)
        first = await stack.call(client, "province-01", "POST", "allocation", path)
        again = await stack.call(client, "province-01", "POST", "allocation", path)
        assert first.status_code == again.status_code == 200, first.text
        assert again.json()["status"] == "acknowledged"
        assert again.json()["acknowledged_by"] == "province-01"


async def test_restarting_every_service_mid_flow_loses_and_duplicates_nothing(
    stack: Stack,
) -> None:
    stack.start()
    bills = [f"738-2{n:07d}" for n in range(6)]
    async with httpx.AsyncClient(timeout=30) as client:
        shipments = [
            await announce_and_arrive(stack, client, bill, 100_000 + n * 7_777)
            for n, bill in enumerate(bills)
        ]
        stack.stop(kill=True)  # crash everything while customs is still catching up
        stack.start()
        for shipment in shipments[:3]:
            assert (await fast_track(stack, client, shipment["shipment_id"])).status_code == 200
        stack.stop()  # a clean restart while allocation works
        stack.start()
        for shipment in shipments[3:]:
            assert (await fast_track(stack, client, shipment["shipment_id"])).status_code == 200
        stack.stop("allocation", kill=True)
        stack.start("allocation")

        for shipment in shipments:
            await until(lambda s=shipment: allocation_round(stack, client, s["shipment_id"]))
        per_shipment: dict[str, int] = {}
        for code in province_codes():
            items = (await inbox(stack, client, code)).json()["items"]
            numbers = [n["notice_number"] for n in items]
            assert len(numbers) == len(set(numbers))
            for n in items:
                per_shipment[n["shipment_id"]] = (
                    per_shipment.get(n["shipment_id"], 0) + n["quantity"]
                )
        for shipment in shipments:
            round_ = await allocation_round(stack, client, shipment["shipment_id"])
            assert round_ is not None
            reserve = round_["lines"][0]["reserve_quantity"]
            total = shipment["lines"][0]["quantity"]
            assert per_shipment[shipment["shipment_id"]] + reserve == total
        parked = await stack.call(client, "admin", "GET", "allocation", "/admin/parked")
        assert parked.json()["items"] == []


async def _notices_for(
    stack: Stack, client: httpx.AsyncClient, code: str, shipment_id: str
) -> list[dict[str, object]] | None:
    response = await inbox(stack, client, code)
    if response.status_code != 200:
        return None
    mine = [n for n in response.json()["items"] if n["shipment_id"] == shipment_id]
    return mine or None
