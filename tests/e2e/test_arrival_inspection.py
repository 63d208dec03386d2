"""Arrivals as they really go, through the public APIs of the running services and Kafka:
a damaged COVAX consignment, a split arrival, a cancellation and a fully rejected one.

Each checks what intake records and what customs presents for the case (customs shows the
accepted units of the parts it has been told of; never a rejected unit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.flows import vaccine_consignment
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e


class Intake:
    def __init__(self, stack: Stack, client: httpx.AsyncClient, user: str = "intake.han") -> None:
        self.stack, self.client, self.user = stack, client, user

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        response = await self.stack.call(
            self.client, self.user, "POST", "intake", path, json=body, headers=headers
        )
        return response

    async def get(self, path: str) -> Any:
        response = await self.stack.call(self.client, self.user, "GET", "intake", path)
        assert response.status_code == 200, response.text
        return response.json()

    async def announce(self, bill: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post("/api/v1/shipments", body or vaccine_consignment(bill))
        assert response.status_code == 201, response.text
        shipment: dict[str, Any] = response.json()
        return shipment

    async def command(self, shipment_id: str, action: str, body: dict[str, Any]) -> Any:
        response = await self.post(
            f"/api/v1/shipments/{shipment_id}/{action}", body, key=f"{action}-{body}"[:200]
        )
        assert response.status_code == 200, response.text
        return response.json()


async def presented(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> Any:
    """The customs case once it exists: its presented lots by (line, lot)."""
    response = await stack.call(
        client, "customs.han", "GET", "customs", f"/api/v1/clearances/{shipment_id}"
    )
    if response.status_code != 200:
        return None
    case = response.json()
    return {"status": case["status"], "received": case["received"] or []}


async def until_presented(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> Any:
    async def probe() -> Any:
        case = await presented(stack, client, shipment_id)
        return case if case and case["received"] else None

    return await until(probe)


def accepted_by_lot(parts: list[dict[str, Any]]) -> dict[tuple[int, str], int]:
    totals: dict[tuple[int, str], int] = {}
    for part in parts:
        for lot in part["lots"]:
            key = (lot["line_no"], lot["lot_number"])
            totals[key] = totals.get(key, 0) + lot["accepted"]
    return totals


def assert_only_accepted_units_presented(case: Any, parts: list[dict[str, Any]]) -> None:
    accepted = accepted_by_lot(parts)
    for lot in case["received"]:
        key = (lot["line_no"], lot["lot_number"])
        assert lot["quantity"] <= accepted.get(key, 0), (lot, accepted)
    first = accepted_by_lot(parts[:1])
    shown = {(lot["line_no"], lot["lot_number"]): lot["quantity"] for lot in case["received"]}
    assert all(shown.get(key, 0) >= quantity for key, quantity in first.items()), (shown, first)


def part_body(lots: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "flight": "VN0317",
        "arrived_at": (now - timedelta(hours=2)).isoformat(),
        "entered_cold_store_at": (now - timedelta(hours=1)).isoformat(),
        "lots": lots,
    } | changes


async def test_a_covax_consignment_with_a_damaged_box_a_vvm_at_stage_3_and_an_unlisted_lot(
    stack: Stack,
) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        intake = Intake(stack, client)
        shipment = await intake.announce("738-30000001")
        sid = shipment["shipment_id"]
        first, second = shipment["lines"][0]["lots"]
        expiry = first["expiry_date"]
        lots = [
            {
                "line_no": 1,
                "lot_number": first["lot_number"],
                "counted": first["quantity"],
                "rejections": [
                    {
                        "reason": "temperature_excursion",
                        "quantity": 4_800,
                        "note": "box 7: logger alarm",
                    }
                ],
            },
            {
                "line_no": 1,
                "lot_number": second["lot_number"],
                "counted": second["quantity"],
                "rejections": [{"reason": "vvm_discard_point", "quantity": 2_400}],
            },
            {
                "line_no": 1,
                "lot_number": "ABV9999",
                "counted": 1_200,
                "expiry_date": expiry,
                "discrepancy_reason": "found in box 12, not on the packing list",
            },
        ]
        report = {
            "line_no": 1,
            "inspected_by": "Nguyễn Văn An",
            "ratified_by": "Trần Thị Bình",
            "advance_notice": {"documents": ["airway_bill", "packing_list", "invoice"]},
            "shipping_indicators": {
                "boxes_inspected": 64,
                "coolant": "ice_packs",
                "problem_boxes": [
                    {
                        "box_number": "7",
                        "alarm": "alarm",
                        "vvm": [{"lot_number": first["lot_number"], "stage": 2}],
                    },
                    {
                        "box_number": "19",
                        "alarm": "no_alarm",
                        "vvm": [{"lot_number": second["lot_number"], "stage": 3}],
                    },
                ],
            },
            "general_condition": {"boxes_condition": "one box crushed", "labels_correct": True},
        }
        detail = await intake.command(sid, "inspection", part_body(lots, reports=[report]))
        [part] = detail["parts"]
        got = {lot["lot_number"]: lot for lot in part["lots"]}
        assert got[first["lot_number"]]["accepted"] == first["quantity"] - 4_800
        assert got[second["lot_number"]]["accepted"] == second["quantity"] - 2_400
        assert got["ABV9999"]["accepted"] == 1_200
        for lot in part["lots"]:
            rejected = sum(r["quantity"] for r in lot["rejections"])
            assert lot["accepted"] + rejected == lot["counted"]
        assert [(d["kind"], d["lot_number"]) for d in part["discrepancies"]] == [
            ("not_on_manifest", "ABV9999")
        ]
        [var] = detail["arrival_reports"]
        assert (
            var["filed_at"]
            and var["report"]["shipping_indicators"]["problem_boxes"][1]["vvm"][0]["stage"] == 3
        )

        closed = await intake.command(sid, "close", {"remarks": "all boxes in"})
        assert closed["status"] == "arrived"
        assert closed["accepted"][0]["quantity"] == 811_200 - 4_800 - 2_400 + 1_200

        case = await until_presented(stack, client, sid)
        assert_only_accepted_units_presented(case, detail["parts"])
        printable = await stack.call(client, "intake.han", "GET", "intake", f"/shipments/{sid}/var")
        assert printable.status_code == 200 and "Nguyễn Văn An" in printable.text


async def test_a_split_arrival_on_two_flights_then_closed(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        intake = Intake(stack, client)
        shipment = await intake.announce("738-30000002")
        sid = shipment["shipment_id"]
        first, second = shipment["lines"][0]["lots"]
        one = part_body(
            [{"line_no": 1, "lot_number": first["lot_number"], "counted": first["quantity"]}]
        )
        detail = await intake.command(sid, "inspection", one)
        assert detail["status"] == "partially_arrived"
        case = await until_presented(stack, client, sid)
        assert_only_accepted_units_presented(case, detail["parts"])

        later = datetime.now(UTC) - timedelta(minutes=30)
        two = part_body(
            [{"line_no": 1, "lot_number": second["lot_number"], "counted": second["quantity"]}],
            flight="VN0319",
            arrived_at=later.isoformat(),
            entered_cold_store_at=None,
        )
        detail = await intake.command(sid, "inspection", two)
        assert [p["flight"] for p in detail["parts"]] == ["VN0317", "VN0319"]
        closed = await intake.command(sid, "close", {})
        assert closed["status"] == "arrived" and closed["shortages"] == []
        assert closed["accepted"][0]["quantity"] == 811_200
        case = await presented(stack, client, sid)
        assert_only_accepted_units_presented(case, detail["parts"])
        history = await intake.get(f"/api/v1/shipments/{sid}/history")
        assert [h["event_type"].split(".")[2] for h in history] == [
            "ShipmentAnnounced",
            "ShipmentArrived",
            "ShipmentArrived",
            "ShipmentClosed",
        ]


async def test_a_consignment_cancelled_before_arrival(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        intake = Intake(stack, client)
        shipment = await intake.announce("738-30000003")
        sid = shipment["shipment_id"]
        await until(lambda: presented(stack, client, sid))  # customs opened the case
        cancelled = await intake.command(sid, "cancel", {"reason": "the donor withdrew it"})
        assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"]
        late = await intake.post(
            f"/api/v1/shipments/{sid}/inspection",
            part_body(
                [
                    {
                        "line_no": 1,
                        "lot_number": shipment["lines"][0]["lots"][0]["lot_number"],
                        "counted": 1,
                    }
                ]
            ),
        )
        assert late.status_code == 409 and late.json()["type"].endswith("/cancelled")
        history = await intake.get(f"/api/v1/shipments/{sid}/history")
        assert history[-1]["actor"] == "intake.han"
        assert history[-1]["data"]["reason"] == "the donor withdrew it"
        case = await presented(stack, client, sid)
        assert case["received"] == []  # nothing was presented to customs


async def test_a_fully_rejected_consignment_closes_with_nothing_to_clear(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        intake = Intake(stack, client)
        shipment = await intake.announce("738-30000004")
        sid = shipment["shipment_id"]
        lots = [
            {
                "line_no": 1,
                "lot_number": lot["lot_number"],
                "counted": lot["quantity"],
                "rejections": [{"reason": "temperature_excursion", "quantity": lot["quantity"]}],
            }
            for lot in shipment["lines"][0]["lots"]
        ]
        detail = await intake.command(sid, "inspection", part_body(lots))
        closed = await intake.command(sid, "close", {"remarks": "cold chain broken"})
        assert closed["status"] == "closed_nothing_to_clear" and closed["accepted"] == []

        async def case_arrived() -> Any:
            case = await presented(stack, client, sid)
            return case if case and case["status"] != "awaiting_arrival" else None

        case = await until(case_arrived)
        assert sum(lot["quantity"] for lot in case["received"]) == 0
        assert_only_accepted_units_presented(case, detail["parts"])
