"""The arrival-inspection API in-process on real PostgreSQL and Kafka: parts, VARs, amend,
cancel, close, history; problems per field, conflicts, idempotency and airport scoping."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.intake import api, pages
from services.intake.main import SPEC
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics
from tests.e2e.flows import vaccine_consignment
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


class Officer:
    def __init__(self, client: httpx.AsyncClient, settings: Settings, user: str) -> None:
        self.client, self.settings, self.user = client, settings, user

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        headers = bearer(self.user, self.settings) | ({"Idempotency-Key": key} if key else {})
        return await self.client.post(path, json=body, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=bearer(self.user, self.settings))


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def _fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def _announced(officer: Officer, bill: str, **changes: Any) -> dict[str, Any]:
    body = vaccine_consignment(bill) | changes
    response = await officer.post("/api/v1/shipments", body)
    assert response.status_code == 201, response.text
    shipment: dict[str, Any] = response.json()
    return shipment


def _part(shipment: dict[str, Any], **changes: Any) -> dict[str, Any]:
    lots = [
        {"line_no": 1, "lot_number": lot["lot_number"], "counted": lot["quantity"]}
        for lot in shipment["lines"][0]["lots"]
    ]
    now = datetime.now(UTC)
    return {
        "flight": "VN0317",
        "arrived_at": (now - timedelta(hours=1)).isoformat(),
        "entered_cold_store_at": now.isoformat(),
        "lots": lots,
    } | changes


async def test_a_part_is_recorded_and_shown_with_its_counts(intake: Any) -> None:
    officer = Officer(*intake, "intake.han")
    shipment = await _announced(officer, "618-70000001")
    sid = shipment["shipment_id"]
    part = _part(shipment)
    part["lots"][0]["rejections"] = [{"reason": "damaged", "quantity": 10, "note": "box 7"}]
    part["reports"] = [
        {
            "line_no": 1,
            "inspected_by": "Nguyen Van A",
            "shipping_indicators": {
                "boxes_inspected": 40,
                "coolant": "ice_packs",
                "problem_boxes": [{"box_number": "7", "alarm": "alarm"}],
            },
        }
    ]
    response = await officer.post(f"/api/v1/shipments/{sid}/inspection", part, key="p-1")
    assert response.status_code == 200, response.text
    again = await officer.post(f"/api/v1/shipments/{sid}/inspection", part, key="p-1")
    assert again.json() == response.json()  # the retry did not record a second part
    detail = (await officer.get(f"/api/v1/shipments/{sid}")).json()
    assert detail["status"] == "partially_arrived" and detail["parts_count"] == 1
    [recorded] = detail["parts"]
    assert recorded["lots"][0]["accepted"] == recorded["lots"][0]["counted"] - 10
    [report] = detail["arrival_reports"]
    assert report["filed_at"] and report["report"]["shipping_indicators"]["coolant"] == "ice_packs"

    closed = await officer.post(f"/api/v1/shipments/{sid}/close", {"remarks": "all in"})
    assert closed.status_code == 200 and closed.json()["status"] == "arrived"
    assert closed.json()["accepted"][0]["quantity"] == shipment["lines"][0]["quantity"] - 10
    _problem(await officer.post(f"/api/v1/shipments/{sid}/close", {}), 409)
    _problem(await officer.post(f"/api/v1/shipments/{sid}/inspection", _part(shipment)), 409)

    history = (await officer.get(f"/api/v1/shipments/{sid}/history")).json()
    assert [h["event_type"].split(".")[2] for h in history] == [
        "ShipmentAnnounced",
        "ShipmentArrived",
        "ArrivalReportFiled",
        "ShipmentClosed",
    ]
    assert {h["actor"] for h in history} == {"intake.han"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["lots"][0].update(counted=-1), "lots/0/counted"),
        (lambda p: p["lots"][0].update(rejections=[{"reason": "lost", "quantity": 1}]), "lots/0"),
        (lambda p: p["lots"][0].update(rejections=[{"reason": "short", "quantity": 1}]), "lots/0"),
        (
            lambda p: p["lots"][0].update(rejections=[{"reason": "damaged", "quantity": 10**8}]),
            "lots/0/rejections",
        ),
        (lambda p: p["lots"][1].update(lot_number="NEW1"), "lots/1/expiry_date"),
        (lambda p: p.update(flight="V N"), "flight"),
        (lambda p: p.update(lots=[]), "lots"),
        (lambda p: p.update(surprise=1), "surprise"),
        (
            lambda p: p.update(reports=[{"line_no": 1, "inspected_by": "A", "x": 1}]),
            "reports/0/x",
        ),
        (lambda p: p.update(arrived_at="2999-01-01T00:00:00Z"), "arrived_at"),
    ],
)
async def test_bad_parts_get_a_problem_per_field_and_record_nothing(
    intake: Any, change: Any, field: str
) -> None:
    officer = Officer(*intake, "intake.han")
    shipment = await _announced(officer, "618-70000002")
    part = _part(shipment)
    change(part)
    path = f"/api/v1/shipments/{shipment['shipment_id']}/inspection"
    problem = _problem(await officer.post(path, part), 422)
    assert any(f and f.startswith(field) for f in _fields(problem)), problem
    detail = (await officer.get(f"/api/v1/shipments/{shipment['shipment_id']}")).json()
    assert detail["parts"] == [] and detail["status"] == "announced"


async def test_short_shelf_life_needs_the_supervisor(intake: Any) -> None:
    officer = Officer(*intake, "intake.han")
    supervisor = Officer(*intake, "supervisor.han")
    soon = (date.today() + timedelta(days=30)).isoformat()
    body = vaccine_consignment("618-70000003")
    for lot in body["lines"][0]["lots"]:
        lot["expiry_date"] = soon
    shipment = await _announced(officer, "618-70000003", lines=body["lines"])
    path = f"/api/v1/shipments/{shipment['shipment_id']}/inspection"
    part = _part(shipment)
    part["lots"][0]["accept_short_shelf_life"] = "used in the campaign this week"
    problem = _problem(await officer.post(path, part), 403)
    assert "lots/0/accept_short_shelf_life" in _fields(problem) or problem["detail"]
    response = await supervisor.post(path, part)
    assert response.status_code == 200, response.text
    first, second = response.json()["parts"][0]["lots"]
    assert first["short_shelf_life"] and first["accepted"] == first["counted"]
    assert second["short_shelf_life"] and second["accepted"] == 0
    assert second["rejections"][0]["reason"] == "short_shelf_life_refused"


async def test_amend_then_cancel_before_arrival_with_history(intake: Any) -> None:
    officer = Officer(*intake, "intake.han")
    shipment = await _announced(officer, "618-70000004")
    sid = shipment["shipment_id"]
    body = vaccine_consignment("618-70000004")
    amendment = {
        k: body[k] for k in ("donor", "channel", "expected_arrival", "consignee", "lines")
    } | {"flight": "VN0319", "reason": "the donor moved it to the next flight"}
    response = await officer.post(f"/api/v1/shipments/{sid}/amendments", amendment, key="a-1")
    assert response.status_code == 200, response.text
    assert response.json()["flight"] == "VN0319" and response.json()["amended_at"]
    problem = _problem(
        await officer.post(f"/api/v1/shipments/{sid}/amendments", amendment | {"reason": ""}),
        422,
    )
    assert "reason" in _fields(problem)
    _problem(await officer.post(f"/api/v1/shipments/{sid}/close", {}), 409)
    cancelled = await officer.post(f"/api/v1/shipments/{sid}/cancel", {"reason": "withdrawn"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    _problem(await officer.post(f"/api/v1/shipments/{sid}/inspection", _part(shipment)), 409)
    _problem(await officer.post(f"/api/v1/shipments/{sid}/amendments", amendment), 409)
    history = (await officer.get(f"/api/v1/shipments/{sid}/history")).json()
    assert [h["data"].get("reason") for h in history][1:] == [
        "the donor moved it to the next flight",
        "withdrawn",
    ]


async def test_another_airport_cannot_touch_the_consignment(intake: Any) -> None:
    officer = Officer(*intake, "intake.han")
    other = Officer(*intake, "intake.sgn")
    viewer = Officer(*intake, "viewer")
    shipment = await _announced(officer, "618-70000005")
    sid = shipment["shipment_id"]
    for path, body in (
        ("inspection", _part(shipment)),
        ("cancel", {"reason": "x"}),
        ("close", {}),
        ("arrival-reports", {"part_no": 1, "line_no": 1, "inspected_by": "A"}),
    ):
        _problem(await other.post(f"/api/v1/shipments/{sid}/{path}", body), 403)
        _problem(await viewer.post(f"/api/v1/shipments/{sid}/{path}", body), 403)
    _problem(await other.get(f"/api/v1/shipments/{sid}/history"), 403)
    assert (await viewer.get(f"/api/v1/shipments/{sid}/history")).status_code == 200
    _problem(await officer.get(f"/api/v1/shipments/{uuid.uuid4()}/history"), 404)


async def test_a_var_filed_later_and_the_overdue_list(intake: Any) -> None:
    officer = Officer(*intake, "intake.han")
    shipment = await _announced(officer, "618-70000006")
    sid = shipment["shipment_id"]
    long_ago = datetime.now(UTC) - timedelta(days=4)
    part = _part(shipment, arrived_at=long_ago.isoformat(), entered_cold_store_at=None)
    assert (await officer.post(f"/api/v1/shipments/{sid}/inspection", part)).status_code == 200
    home = await officer.get("/")
    assert home.status_code == 200
    overdue = home.text.split('id="overdue"', 1)[1].split("</section>", 1)[0]
    assert "618-70000006" in overdue
    report = {"part_no": 1, "line_no": 1, "inspected_by": "Nguyen Van A", "ratified_by": "B"}
    filed = await officer.post(f"/api/v1/shipments/{sid}/arrival-reports", report)
    assert filed.status_code == 200, filed.text
    _problem(await officer.post(f"/api/v1/shipments/{sid}/arrival-reports", report), 409)
    problem = _problem(
        await officer.post(f"/api/v1/shipments/{sid}/arrival-reports", report | {"part_no": 2}),
        422,
    )
    assert "part_no" in _fields(problem)
    assert 'id="overdue"' not in (await officer.get("/")).text
