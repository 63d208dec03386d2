"""What reaches the provinces, end to end through the public APIs of the three services on
the real Kafka and PostgreSQL: intake's inspection, customs' case, allocation's rounds.

Each scenario ends by reading every recipient's inbox, the 34 provinces' and the five national
recipients': summed over every notice of the consignment, plus what its rounds keep in the
national reserve, they hold exactly the units
intake accepted and customs released, never a rejected, held or refused unit. A ledger kept
across the module's scenarios is checked again at the end of each, so a consignment that must
never reach a province (cancelled, fully rejected) is still checked after later ones have
flowed through allocation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.infra.kafka_broker import KafkaBroker
from shared.infra.postgres import EmbeddedPostgres
from shared.reference_data import national_recipients, province_codes
from tests.e2e.flows import announce_and_arrive, fast_track, vaccine_consignment
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e

APPROVER = "approver.moh"
DOCUMENTS = (
    "airway_bill",
    "packing_list",
    "invoice",
    "donation_letter",
    "lot_release_certificate",
    "import_licence",
)


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres, kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One stack for the module: the scenarios run one after another on it."""
    running = Stack(postgres, kafka, tmp_path_factory.mktemp("logs"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ledger() -> dict[str, int]:
    """Per shipment id, the units its notices and reserve must add up to (0: nothing)."""
    return {}


class Flow:
    """The officers' calls, each asserting its success."""

    def __init__(self, stack: Stack, client: httpx.AsyncClient) -> None:
        self.stack, self.client = stack, client

    async def _post(self, user: str, service: str, path: str, body: dict[str, Any]) -> Any:
        response = await self.stack.call(
            self.client, user, "POST", service, path, json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def announce(self, airway_bill: str) -> dict[str, Any]:
        body = vaccine_consignment(airway_bill)
        shipment: dict[str, Any] = await self._post(
            "intake.han", "intake", "/api/v1/shipments", body
        )
        return shipment

    async def intake(self, shipment_id: str, action: str, body: dict[str, Any]) -> Any:
        path = f"/api/v1/shipments/{shipment_id}/{action}"
        return await self._post("intake.han", "intake", path, body)

    async def customs(self, shipment_id: str, step: str, body: dict[str, Any]) -> Any:
        path = f"/api/v1/clearances/{shipment_id}/{step}"
        return await self._post("customs.han", "customs", path, body)

    async def customs_refused(self, shipment_id: str, step: str, body: dict[str, Any]) -> Any:
        response = await self.stack.call(
            self.client, "customs.han", "POST", "customs",
            f"/api/v1/clearances/{shipment_id}/{step}", json=body,
        )  # fmt: skip
        assert response.status_code == 409, response.text
        return response.json()

    async def case(self, shipment_id: str) -> dict[str, Any] | None:
        response = await self.stack.call(
            self.client, "customs.han", "GET", "customs", f"/api/v1/clearances/{shipment_id}"
        )
        return response.json() if response.status_code == 200 else None

    async def case_when(self, shipment_id: str, ready: Any) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            case = await self.case(shipment_id)
            return case if case and ready(case) else None

        return await until(probe)

    async def papers_and_lane(self, shipment_id: str, lane: str) -> None:
        """A full declaration under Resolution 106, every document received, the lane."""
        declaration = {
            "declaration_number": f"104{int(shipment_id[:8], 16) % 10**9:09d}",
            "declaration_type": "full",
            "exemption_basis": "Resolution 106/NQ-CP",
        }
        await self.customs(shipment_id, "declaration", declaration)
        for document in DOCUMENTS:
            await self.customs(
                shipment_id, "documents", {"document": document, "status": "received"}
            )
        await self.customs(shipment_id, "lane", {"lane": lane})

    async def round(self, round_id: str) -> dict[str, Any] | None:
        response = await self.stack.call(
            self.client, "allocation.moh", "GET", "allocation", f"/api/v1/rounds/{round_id}"
        )
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def released(self, shipment_id: str) -> list[int]:
        """The units of each ``GoodsReleased`` in the case's history, in order."""
        response = await self.stack.call(
            self.client, "viewer", "GET", "customs", f"/api/v1/clearances/{shipment_id}/history"
        )
        assert response.status_code == 200, response.text
        return [
            sum(lot["quantity"] for line in e["data"]["lines"] for lot in line["lots"])
            for e in response.json()
            if e["event_type"] == "aidport.customs.GoodsReleased.v1"
        ]

    async def drafted(self, shipment_id: str, release_no: int) -> dict[str, Any]:
        round_id = f"R-{shipment_id.replace('-', '').upper()}-{release_no}"
        round_: dict[str, Any] = await until(lambda: self.round(round_id))
        assert round_["status"] == "drafted" and not round_["automatic"], round_
        assert round_["source"] == "release" and round_["release_no"] == release_no, round_
        return round_

    async def approve(self, round_: dict[str, Any], number: str) -> dict[str, Any]:
        path = f"/api/v1/rounds/{round_['round_id']}/approve"
        body = {"decision_number": number, "decision_date": "2021-07-12"}
        approved: dict[str, Any] = await self._post(APPROVER, "allocation", path, body)
        assert approved["status"] == "approved" and approved["approved_by"] == APPROVER
        return approved

    async def notices(self) -> list[dict[str, Any]]:
        """Every notice in every recipient's inbox, as each recipient's officer reads its own."""
        found: list[dict[str, Any]] = []
        officers = [(c, f"province-{c}") for c in province_codes()]
        officers += [(r.code, f"recipient-{r.code.lower()}") for r in national_recipients()]
        for code, officer in officers:
            response = await self.stack.call(
                self.client, officer, "GET", "allocation",
                f"/api/v1/recipients/{code}/notices", params={"limit": 200},
            )  # fmt: skip
            assert response.status_code == 200, response.text
            page = response.json()
            assert page.get("next_cursor") is None, "more notices than one page"
            found += page["items"]
        return found

    async def notices_of(self, shipment_id: str) -> list[dict[str, Any]]:
        return [n for n in await self.notices() if n["shipment_id"] == shipment_id]

    async def notices_of_round(self, round_id: str, count: int = 1) -> list[dict[str, Any]]:
        """The round's notices once at least ``count`` provinces have theirs."""

        async def probe() -> list[dict[str, Any]] | None:
            mine = [n for n in await self.notices() if n["round_id"] == round_id]
            return mine if len(mine) >= count else None

        return await until(probe)


def reserve_of(round_: dict[str, Any]) -> int:
    return sum(int(line["reserve_quantity"]) for line in round_["lines"])


def round_lots(round_: dict[str, Any]) -> dict[str, int]:
    """Units per lot in the round: its shares' lots and the reserve's."""
    lots: dict[str, int] = {}
    for line in round_["lines"]:
        parts = [s["lots"] for s in line["shares"]] + [line.get("reserve_lots") or []]
        for lot in (lot for found in parts for lot in found):
            lots[lot["lot_number"]] = lots.get(lot["lot_number"], 0) + int(lot["quantity"])
    return lots


def units_by_lot(notices: list[dict[str, Any]]) -> dict[str, int]:
    lots: dict[str, int] = {}
    for notice in notices:
        for lot in notice["lots"]:
            lots[lot["lot_number"]] = lots.get(lot["lot_number"], 0) + int(lot["quantity"])
    return lots


def part(lots: list[dict[str, Any]], flight: str = "VN0317") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "flight": flight,
        "arrived_at": (now - timedelta(hours=2)).isoformat(),
        "entered_cold_store_at": (now - timedelta(hours=1)).isoformat(),
        "lots": lots,
    }


def counted(lot: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"line_no": 1, "lot_number": lot["lot_number"], "counted": lot["quantity"]} | more


async def check_ledger(flow: Flow, ledger: dict[str, int]) -> None:
    """Every consignment of the module: its notices plus its rounds' reserve hold exactly the
    units expected, each notice's lots add up to its quantity, and no round exists where
    nothing was to be allocated."""
    notices = await flow.notices()
    for shipment_id, expected in ledger.items():
        mine = [n for n in notices if n["shipment_id"] == shipment_id]
        for notice in mine:
            assert sum(int(lot["quantity"]) for lot in notice["lots"]) == notice["quantity"]
        rounds = {n["round_id"] for n in mine}
        if expected == 0:
            assert mine == [] and await flow.round(shipment_id) is None, shipment_id
            continue
        reserve = 0
        for round_id in rounds:
            round_ = await flow.round(round_id)
            assert round_ is not None and round_["status"] == "approved", round_
            reserve += reserve_of(round_)
        assert sum(n["quantity"] for n in mine) + reserve == expected, shipment_id


async def test_a_covax_consignment_with_rejections_reaches_the_provinces_with_accepted_units(
    stack: Stack, ledger: dict[str, int]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await flow.announce("738-40000001")
        sid = shipment["shipment_id"]
        first, second = shipment["lines"][0]["lots"]
        damaged = {"reason": "damaged", "quantity": 4_800, "note": "box 7 crushed, logger alarm"}
        vvm = {"reason": "vvm_discard_point", "quantity": 2_400, "note": "VVM stage 3"}
        unlisted = {
            "line_no": 1,
            "lot_number": "ABV9999",
            "counted": 1_200,
            "expiry_date": first["expiry_date"],
            "discrepancy_reason": "found in box 12, not on the packing list",
        }
        lots = [counted(first, rejections=[damaged]), counted(second, rejections=[vvm]), unlisted]
        report = {
            "line_no": 1,
            "inspected_by": "Nguyễn Văn An",
            "ratified_by": "Trần Thị Bình",
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
        }
        await flow.intake(sid, "inspection", part(lots) | {"reports": [report]})
        closed = await flow.intake(sid, "close", {"remarks": "all boxes in"})
        accepted = 811_200 - 4_800 - 2_400 + 1_200
        assert closed["accepted"][0]["quantity"] == accepted
        accepted_by_lot = {
            first["lot_number"]: first["quantity"] - 4_800,
            second["lot_number"]: second["quantity"] - 2_400,
            "ABV9999": 1_200,
        }

        case = await flow.case_when(
            sid, lambda c: c["detail"]["arrivals_completed"] and c["presented_total"] == accepted
        )
        assert case["status"] == "arrived"
        await flow.papers_and_lane(sid, "green")
        released = await flow.customs(sid, "release", {"everything": True})
        assert released["released_total"] == accepted
        assert (released["status"], released["closure"]) == ("closed", "completed")

        draft = await flow.drafted(sid, 1)
        assert round_lots(draft) == accepted_by_lot
        assert await flow.notices_of(sid) == []  # nothing is sent before the approval
        approved = await flow.approve(draft, "1/QĐ-BYT")
        notices = await flow.notices_of_round(approved["round_id"], count=34)
        assert sum(n["quantity"] for n in notices) + reserve_of(approved) == accepted
        assert all(units <= accepted_by_lot[lot] for lot, units in units_by_lot(notices).items()), (
            units_by_lot(notices)
        )
        ledger[sid] = accepted
        await check_ledger(flow, ledger)


async def test_a_split_arrival_released_in_two_parts_reaches_the_provinces_in_two_rounds(
    stack: Stack, ledger: dict[str, int]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await flow.announce("738-40000002")
        sid = shipment["shipment_id"]
        first, second = shipment["lines"][0]["lots"]
        short = {"reason": "temperature_excursion", "quantity": 1_000}
        await flow.intake(sid, "inspection", part([counted(first, rejections=[short])]))
        first_accepted = first["quantity"] - 1_000
        await flow.case_when(sid, lambda c: c["presented_total"] == first_accepted)
        await flow.papers_and_lane(sid, "green")
        one = await flow.customs(sid, "release", {"everything": True})
        assert one["released_total"] == first_accepted and one["status"] == "cleared"
        round_one = await flow.approve(await flow.drafted(sid, 1), "2/QĐ-BYT")
        notices = await flow.notices_of_round(round_one["round_id"], count=34)
        assert sum(n["quantity"] for n in notices) + reserve_of(round_one) == first_accepted
        assert set(units_by_lot(notices)) == {first["lot_number"]}

        await flow.intake(sid, "inspection", part([counted(second)], flight="VN0319"))
        closed = await flow.intake(sid, "close", {})
        accepted = first_accepted + second["quantity"]
        assert closed["accepted"][0]["quantity"] == accepted
        await flow.case_when(
            sid, lambda c: c["detail"]["arrivals_completed"] and c["presented_total"] == accepted
        )
        two = await flow.customs(sid, "release", {"everything": True})
        assert two["released_total"] == accepted and two["status"] == "closed"
        round_two = await flow.approve(await flow.drafted(sid, 2), "3/QĐ-BYT")
        assert round_lots(round_two) == {second["lot_number"]: second["quantity"]}
        second_notices = await flow.notices_of_round(round_two["round_id"], count=34)
        assert set(units_by_lot(second_notices)) == {second["lot_number"]}
        assert await flow.released(sid) == [first_accepted, second["quantity"]]
        total = sum(n["quantity"] for n in await flow.notices_of(sid))
        assert total + reserve_of(round_one) + reserve_of(round_two) == accepted
        ledger[sid] = accepted
        await check_ledger(flow, ledger)


async def test_a_red_lane_case_with_a_hold_allocates_the_held_lot_only_after_its_release(
    stack: Stack, ledger: dict[str, int]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await announce_and_arrive(stack, client, "738-40000003", doses=80_000)
        sid = shipment["shipment_id"]
        first, second = shipment["lines"][0]["lots"]
        await flow.case_when(sid, lambda c: c["status"] == "arrived")
        await flow.papers_and_lane(sid, "red")
        held_lot = {
            "line_no": 1,
            "lot_number": second["lot_number"],
            "quantity": second["quantity"],
        }
        await flow.customs(sid, "holds", {"reason": "quarantine", "lots": [held_lot]})
        refused = await flow.customs_refused(sid, "release", {"everything": True})
        assert "examination" in refused["detail"]

        examination = {"place": "cold_store", "partial": True, "findings": "seals intact"}
        await flow.customs(sid, "examination", examination)
        partial = await flow.customs(sid, "release", {"everything": True})
        assert (partial["released_total"], partial["held_total"]) == (
            first["quantity"],
            second["quantity"],
        )
        draft = await flow.drafted(sid, 1)
        assert round_lots(draft) == {first["lot_number"]: first["quantity"]}
        round_one = await flow.approve(draft, "4/QĐ-BYT")
        notices = await flow.notices_of_round(round_one["round_id"], count=34)
        assert second["lot_number"] not in units_by_lot(await flow.notices_of(sid))
        assert sum(n["quantity"] for n in notices) + reserve_of(round_one) == first["quantity"]
        assert await flow.round(f"R-{sid.replace('-', '').upper()}-2") is None

        [hold] = partial["detail"]["holds"]
        await flow.customs(sid, f"holds/{hold['hold_id']}/release", {"note": "quarantine lifted"})
        rest = await flow.customs(sid, "release", {"everything": True})
        assert (rest["status"], rest["closure"], rest["released_total"]) == (
            "closed",
            "completed",
            80_000,
        )
        draft = await flow.drafted(sid, 2)
        assert round_lots(draft) == {second["lot_number"]: second["quantity"]}
        round_two = await flow.approve(draft, "5/QĐ-BYT")
        later = await flow.notices_of_round(round_two["round_id"], count=34)
        assert units_by_lot(later).keys() == {second["lot_number"]}
        ledger[sid] = 80_000
        await check_ledger(flow, ledger)


async def test_a_consignment_cancelled_before_arrival_never_reaches_a_province(
    stack: Stack, ledger: dict[str, int]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await flow.announce("738-40000004")
        sid = shipment["shipment_id"]
        await flow.case_when(sid, lambda c: c["status"] == "awaiting_arrival")
        await flow.intake(sid, "cancel", {"reason": "the donor withdrew it"})
        case = await flow.case_when(sid, lambda c: c["status"] == "closed")
        assert case["closure"] == "cancelled" and case["presented_total"] == 0
        late = await flow.customs_refused(sid, "declaration", {
            "declaration_number": "104000000004", "declaration_type": "full"})  # fmt: skip
        assert "closed" in late["detail"]
        ledger[sid] = 0
        await check_ledger(flow, ledger)


async def test_a_fully_rejected_consignment_closes_with_nothing_to_clear_and_no_round(
    stack: Stack, ledger: dict[str, int]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await flow.announce("738-40000005")
        sid = shipment["shipment_id"]
        lots = [
            counted(
                lot, rejections=[{"reason": "temperature_excursion", "quantity": lot["quantity"]}]
            )
            for lot in shipment["lines"][0]["lots"]
        ]
        await flow.intake(sid, "inspection", part(lots))
        closed = await flow.intake(sid, "close", {"remarks": "cold chain broken"})
        assert closed["status"] == "closed_nothing_to_clear" and closed["accepted"] == []
        case = await flow.case_when(sid, lambda c: c["status"] == "closed")
        assert case["closure"] == "nothing_to_clear" and case["presented_total"] == 0
        late = await flow.customs_refused(sid, "release", {"everything": True})
        assert "closed" in late["detail"]
        ledger[sid] = 0
        await check_ledger(flow, ledger)


async def test_the_fast_track_stays_automatic(stack: Stack, ledger: dict[str, int]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await announce_and_arrive(stack, client, "738-40000006")
        sid = shipment["shipment_id"]
        cleared = await fast_track(stack, client, sid)
        assert cleared.status_code == 200, cleared.text
        round_id = f"R-{sid.replace('-', '').upper()}"
        notices = await flow.notices_of_round(round_id, count=34)
        assert len(notices) == 34 and {n["province_code"] for n in notices} == set(province_codes())
        round_ = await flow.round(round_id)
        assert round_ is not None and round_["automatic"] and round_["status"] == "approved"
        assert round_["approved_by"].startswith("automatic under policy "), round_
        assert sum(n["quantity"] for n in notices) + reserve_of(round_) == 811_200
        ledger[sid] = 811_200
        await check_ledger(flow, ledger)


async def test_a_split_relief_consignment_fast_tracked_per_flight_reaches_the_provinces_twice(
    stack: Stack, ledger: dict[str, int]
) -> None:
    """Each flight's part is fast-tracked as it lands: both reach the provinces, each in an
    automatic round of its own (the second was once dropped as a redelivery of the first)."""
    async with httpx.AsyncClient(timeout=30) as client:
        flow = Flow(stack, client)
        shipment = await flow.announce("738-40000007")
        sid = shipment["shipment_id"]
        first, second = shipment["lines"][0]["lots"]
        await flow.intake(sid, "inspection", part([counted(first)]))
        await flow.case_when(sid, lambda c: c["presented_total"] == first["quantity"])
        assert (await fast_track(stack, client, sid)).status_code == 200
        base = f"R-{sid.replace('-', '').upper()}"
        one = await flow.notices_of_round(base, count=34)
        assert units_by_lot(one).keys() == {first["lot_number"]}

        await flow.intake(sid, "inspection", part([counted(second)], flight="VN0319"))
        await flow.intake(sid, "close", {})
        await flow.case_when(sid, lambda c: c["presented_total"] == 811_200)
        again = await fast_track(stack, client, sid)
        assert again.status_code == 200, again.text
        assert (again.json()["status"], again.json()["closure"]) == ("closed", "completed")
        two = await flow.notices_of_round(f"{base}-FT2", count=34)
        assert units_by_lot(two).keys() == {second["lot_number"]}
        for round_id in (base, f"{base}-FT2"):
            round_ = await flow.round(round_id)
            assert round_ is not None and round_["automatic"] and round_["source"] == "fast_track"
        ledger[sid] = 811_200
        await check_ledger(flow, ledger)
