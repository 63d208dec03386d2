"""A consignment's priority and the caps counted from receipts, end to end through the public
APIs of the three services on the real Kafka and PostgreSQL.

Priority: announced at intake, carried by customs' case and its releases, it lets the default
policy (population-share v2) approve an emergency's round at once, the approval saying why;
a routine release waits for a Ministry approver. Caps: a province's room in the next round is
its target less what it accepted on receipt and what is still on its way, so the units it
rejected on receipt are room again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.allocation.policies.catalog import policy
from shared.infra.kafka_broker import KafkaBroker
from shared.infra.postgres import EmbeddedPostgres
from shared.reference_data import province_codes
from tests.e2e.flows import arrival_of, vaccine_consignment
from tests.e2e.stack import Stack, until
from tests.e2e.test_pages_and_live_feed import sign_in
from tests.e2e.test_what_reaches_the_provinces import Flow

pytestmark = pytest.mark.e2e

AUTOMATIC = "automatic under policy population-share v2, consignment priority emergency"
CAPPED = "population-share-capped"


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres, kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = Stack(postgres, kafka, tmp_path_factory.mktemp("logs"))
    running.start()
    yield running
    running.stop()


class Consignments(Flow):
    async def announce_with(self, body: dict[str, Any]) -> dict[str, Any]:
        shipment: dict[str, Any] = await self._post(
            "intake.han", "intake", "/api/v1/shipments", body
        )
        return shipment

    async def arrive(self, shipment: dict[str, Any]) -> str:
        sid: str = shipment["shipment_id"]
        await self.intake(sid, "arrival", arrival_of(shipment))
        await self.case_when(sid, lambda c: c["status"] == "arrived")
        return sid

    async def fast_track(self, sid: str) -> None:
        body = {"declaration_number": f"D{sid[:8]}", "lane": "green", "examination": "none"}
        await self.customs(sid, "fast-track", body)

    async def release(self, sid: str) -> None:
        await self.papers_and_lane(sid, "green")
        await self.customs(sid, "release", {"everything": True})

    async def decided(self, round_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            found = await self.round(round_id)
            return found if found and found["status"] == "approved" else None

        return await until(probe)


def round_of(sid: str, release_no: int | None = None) -> str:
    base = f"R-{sid.replace('-', '').upper()}"
    return f"{base}-{release_no}" if release_no else base


async def test_an_emergency_is_carried_from_the_announcement_to_an_automatic_round(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Consignments(stack, client)
        body = vaccine_consignment("738-50000001") | {"priority": "emergency"}
        shipment = await flow.announce_with(body)
        assert shipment["priority"] == "emergency"
        sid = await flow.arrive(shipment)

        case = await flow.case(sid)
        assert case is not None and case["priority"] == "emergency"
        listed = await stack.call(
            client, "customs.han", "GET", "customs", "/api/v1/clearances",
            params={"priority": "emergency"},
        )  # fmt: skip
        assert [c["shipment_id"] for c in listed.json()["items"]] == [sid]
        await _the_queue_page_filters_by_priority(stack, sid, "738-50000001")

        await flow.release(sid)
        round_id = round_of(sid, 1)
        approved = await flow.decided(round_id)
        assert approved["automatic"] and approved["decision_number"] == f"AUTO {round_id}"
        assert approved["approved_by"] == AUTOMATIC
        notices = await flow.notices_of_round(round_id, count=34)
        assert all(n["decision_number"] == f"AUTO {round_id}" for n in notices)
        assert sum(n["quantity"] for n in notices) > 0


async def _the_queue_page_filters_by_priority(stack: Stack, sid: str, bill: str) -> None:
    async with httpx.AsyncClient(timeout=30) as browser:
        customs = stack.url("customs")
        await sign_in(browser, customs, "customs.han", "customs")
        await Consignments(stack, browser).case_when(sid, lambda c: c["status"] == "arrived")
        emergencies = await browser.get(f"{customs}/?status=arrived&priority=emergency")
        routine = await browser.get(f"{customs}/?status=arrived&priority=routine")
        assert emergencies.status_code == routine.status_code == 200
        assert bill in emergencies.text and bill not in routine.text
        assert 'aria-current="page">khẩn cấp' in emergencies.text  # Vietnamese by default


async def test_an_amended_emergency_on_the_fast_track_says_its_priority(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Consignments(stack, client)
        body = vaccine_consignment("738-50000002")
        shipment = await flow.announce_with(body)
        assert shipment["priority"] == "routine"
        sid = shipment["shipment_id"]
        amendment = {k: body[k] for k in ("donor", "channel", "flight", "consignee", "lines")}
        amendment |= {
            "expected_arrival": body["expected_arrival"],
            "reason": "outbreak declared in the north",
            "priority": "emergency",
        }
        amended = await flow.intake(sid, "amendments", amendment)
        assert amended["priority"] == "emergency"
        await flow.case_when(sid, lambda c: c["priority"] == "emergency")
        await flow.arrive(shipment)
        await flow.fast_track(sid)
        approved = await flow.decided(round_of(sid))
        assert approved["automatic"] and approved["approved_by"] == AUTOMATIC


async def test_a_routine_release_waits_for_a_ministry_approver(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Consignments(stack, client)
        shipment = await flow.announce_with(vaccine_consignment("738-50000003"))
        sid = await flow.arrive(shipment)
        await flow.release(sid)
        drafted = await flow.drafted(sid, 1)
        assert drafted["decision_number"] is None
        assert await flow.notices_of(sid) == []


async def test_a_priority_that_does_not_exist_is_a_problem_on_its_field(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        body = vaccine_consignment("738-50000004") | {"priority": "critical"}
        response = await stack.call(
            client, "intake.han", "POST", "intake", "/api/v1/shipments", json=body
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == ["priority"]
        listed = await stack.call(
            client, "customs.han", "GET", "customs", "/api/v1/clearances",
            params={"priority": "critical"},
        )  # fmt: skip
        assert listed.status_code == 422
        assert [e["field"] for e in listed.json()["errors"]] == ["priority"]


# -- caps counted from receipts ---------------------------------------------------------------

# A product of its own: only this scenario's notices count against its targets.
PRODUCT = "COVID-19 Vaccine AstraZeneca (SK bioscience)"
PACK = 10
REJECTED = 5_000


def consignment(airway_bill: str, doses: int) -> dict[str, Any]:
    body = vaccine_consignment(airway_bill, doses)
    expiry = (date.today() + timedelta(days=200)).isoformat()
    lots = [{"lot_number": f"SK{airway_bill[-4:]}", "expiry_date": expiry, "quantity": doses}]
    body["lines"][0] |= {"product": PRODUCT, "lots": lots}
    return body


def counted_against_need(notices: list[dict[str, Any]]) -> dict[str, int]:
    """What the caps count, per province, from the inboxes: accepted on receipt, else the
    notice's quantity (allocated, on its way)."""
    counted = dict.fromkeys(province_codes(), 0)
    for notice in notices:
        if notice["product"] != PRODUCT or notice["status"] == "withdrawn":
            continue
        received = notice["received_lots"]
        units = sum(lot["accepted"] for lot in received) if received else notice["quantity"]
        counted[notice["province_code"]] += units
    return counted


async def receive_with_rejections(flow: Flow, notice: dict[str, Any]) -> dict[str, Any]:
    """Province 01 acknowledges, the store dispatches, the province rejects some units."""
    path = f"/api/v1/provinces/01/notices/{notice['notice_number']}"
    client, stack = flow.client, flow.stack
    ack = await stack.call(client, "province-01", "POST", "allocation", f"{path}/acknowledge")
    assert ack.status_code == 200, ack.text
    dispatched = await stack.call(
        client, "store.nepi", "POST", "allocation", f"{path}/dispatch",
        json={"carrier": "VNPost cold truck 29C-12345"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert dispatched.status_code == 200, dispatched.text
    lots = [
        {"lot_number": lot["lot_number"], "counted": lot["quantity"], "accepted": lot["quantity"]}
        for lot in dispatched.json()["dispatched_lots"]
    ]
    lots[0]["accepted"] -= REJECTED
    lots[0]["rejections"] = [{"reason": "damaged", "quantity": REJECTED, "note": "broken vials"}]
    received = await stack.call(
        client, "province-01", "POST", "allocation", f"{path}/receipt", json={"lots": lots}
    )
    assert received.status_code == 200, received.text
    body: dict[str, Any] = received.json()
    assert body["rejected_quantity"] == REJECTED
    return body


async def test_units_rejected_on_receipt_are_room_again_in_the_next_capped_round(
    stack: Stack,
) -> None:
    targets = policy(CAPPED).targets
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Consignments(stack, client)
        # Enough for every province's whole target: the first round fills every need.
        first = await flow.announce_with(consignment("738-50000101", sum(targets.values())))
        sid = await flow.arrive(first)
        await flow.fast_track(sid)
        notices = await flow.notices_of_round((await flow.decided(round_of(sid)))["round_id"], 34)
        before = counted_against_need(notices)
        assert all(abs(before[c] - targets[c]) < 2 * PACK for c in targets)  # about full

        [ha_noi] = [n for n in notices if n["province_code"] == "01"]
        await receive_with_rejections(flow, ha_noi)

        second = await flow.announce_with(consignment("738-50000102", 1_000_000))
        sid_two = await flow.arrive(second)
        await flow.release(sid_two)
        drafted = await flow.drafted(sid_two, 1)
        redraft = f"/api/v1/rounds/{drafted['round_id']}/redraft"
        capped = await flow._post("allocation.moh", "allocation", redraft, {"policy_id": CAPPED})
        assert (capped["policy_id"], capped["status"]) == (CAPPED, "drafted"), capped

        counted = counted_against_need(await flow.notices())
        assert counted["01"] == before["01"] - REJECTED
        room = {c: max(0, targets[c] - counted[c]) for c in targets}
        [line] = capped["lines"]
        shares = {s["recipient_code"]: s["quantity"] for s in line["shares"]}
        assert {c: shares.get(c, 0) for c in targets} == {
            c: room[c] // PACK * PACK for c in targets
        }
        assert shares["01"] >= REJECTED - 2 * PACK  # the rejected units, give or take a pack
        assert all(shares.get(c, 0) < 2 * PACK for c in targets if c != "01")
