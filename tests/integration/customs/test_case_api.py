"""The customs case API in-process on real PostgreSQL and Kafka: each officer's step, bad input
as problems per field, 409s that say why, Idempotency-Key, airport scoping, the history.

The case is opened and presented by the customs reactions' handler on the same database,
as the consumer does on intake's events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.customs import api, domain, pages
from services.customs.application import cases_in
from services.customs.main import SPEC
from shared.application import in_transaction
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.values import Channel
from shared.db import create_pool
from shared.eventstore import EventStore
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics
from tests.integration.apps import bearer, serving, settings_for
from tests.integration.layers import METADATA
from tests.unit.builders import NOW, line, lot, received

pytestmark = pytest.mark.integration

CASES = cases_in(EventStore("customs"))
Client = tuple[httpx.AsyncClient, Settings, asyncpg.Pool]


@pytest.fixture
async def customs(database: str, kafka: KafkaBroker) -> AsyncIterator[Client]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("customs", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        pool = await create_pool(database, min_size=1, max_size=4)
        try:
            yield client, settings, pool
        finally:
            await pool.close()


async def _react(pool: asyncpg.Pool, shipment_id: uuid.UUID, command: domain.Command) -> None:
    await in_transaction(pool, lambda conn: CASES.handle(conn, str(shipment_id), command, METADATA))


async def _case(pool: asyncpg.Pool, airport: str = "HAN", arrived: bool = True) -> uuid.UUID:
    shipment_id = uuid.uuid4()
    vaccine = line(1, 1000, lots=(lot("A1", 600), lot("A2", 400, days=60)))
    announced = ShipmentAnnounced(
        shipment_id=shipment_id,
        donor="COVAX",
        channel=Channel.COVAX,
        airport=airport,
        flight="VN0317",
        airway_bill="738-12345675",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(vaccine,),
    )
    await _react(pool, shipment_id, domain.OpenCase.from_announcement(announced))
    if arrived:
        presented = domain.PresentGoods(NOW, received((1, "A1", 600), (1, "A2", 400)))
        await _react(pool, shipment_id, presented)
    return shipment_id


async def _post(
    client: Client,
    shipment_id: uuid.UUID,
    step: str,
    body: dict[str, Any],
    user: str = "customs.han",
    key: str | None = None,
) -> httpx.Response:
    http, settings, _ = client
    headers = bearer(user, settings) | ({"Idempotency-Key": key} if key else {})
    return await http.post(f"/api/v1/clearances/{shipment_id}/{step}", json=body, headers=headers)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


DECLARATION = {"declaration_number": "104123456789", "declaration_type": "full"}


async def test_a_red_lane_case_with_a_hold_and_a_partial_release(customs: Client) -> None:
    case = await _case(customs[2])
    _ok(await _post(customs, case, "declaration", DECLARATION | {"exemption_basis": "106/NQ-CP"}))
    _ok(await _post(customs, case, "lane", {"lane": "red"}))
    unexamined = await _post(customs, case, "release", {"everything": True})
    assert "examination" in _problem(unexamined, 409)["detail"]
    held = _ok(await _post(customs, case, "holds", {"reason": "quarantine", "lots": [
        {"line_no": 1, "lot_number": "A2", "quantity": 400}]}))  # fmt: skip
    assert held["open_holds"] == 1 and held["clock"]["stopped"]
    examined = {"place": "cold_store", "partial": True, "findings": "seals intact"}
    _ok(await _post(customs, case, "examination", examined))
    too_much = await _post(customs, case, "release", {"lots": [
        {"line_no": 1, "lot_number": "A2", "quantity": 1}]})  # fmt: skip
    assert "400 held" in _problem(too_much, 409)["detail"]
    first = _ok(await _post(customs, case, "release", {"everything": True}, key="rel-1"))
    assert first["status"] == "arrived" and first["released_total"] == 600
    lots = {x["lot_number"]: x for x in first["detail"]["lots"]}
    assert (lots["A1"]["released"], lots["A2"]["held"], lots["A2"]["free"]) == (600, 400, 0)
    again = _ok(await _post(customs, case, "release", {"everything": True}, key="rel-1"))
    assert again == first  # the retry acted once
    _ok(await _post(customs, case, "holds/H1/release", {"note": "quarantine lifted"}))
    rest = _ok(await _post(customs, case, "release", {"everything": True}))
    assert rest["status"] == "cleared" and rest["released_total"] == 1000
    assert sum(x["quantity"] for x in rest["cleared_lines"]) == 1000

    http, settings, _ = customs
    history = await http.get(
        f"/api/v1/clearances/{case}/history", headers=bearer("viewer", settings)
    )
    steps = [(e["event_type"].split(".")[2], e["actor"]) for e in history.json()]
    assert [s for s, _ in steps] == [
        "ClearanceCaseOpened", "GoodsPresented", "DeclarationLodged", "LaneAssigned",
        "HoldPlaced", "GoodsExamined", "GoodsReleased", "HoldReleased", "GoodsReleased",
    ]  # fmt: skip
    assert {a for s, a in steps[2:]} == {"customs.han"}


async def test_yellow_lane_waits_for_the_documents(customs: Client) -> None:
    case = await _case(customs[2])
    _ok(await _post(customs, case, "declaration", DECLARATION))
    _ok(await _post(customs, case, "lane", {"lane": "yellow"}))
    missing = _problem(await _post(customs, case, "release", {"everything": True}), 409)
    assert "packing_list" in missing["detail"]
    for document in ("airway_bill", "packing_list", "invoice", "donation_letter"):
        _ok(await _post(customs, case, "documents", {"document": document, "status": "received"}))
    waived = {"document": "lot_release_certificate", "status": "waived"}
    assert (
        _problem(await _post(customs, case, "documents", waived), 422)["errors"][0]["field"]
        == "reason"
    )
    _ok(await _post(customs, case, "documents", waived | {"reason": "WHO prequalified"}))
    _ok(await _post(customs, case, "permits", {"agency": "DAV", "status": "deemed_granted"}))
    licence = {"document": "import_licence", "status": "received"}
    shown = _ok(await _post(customs, case, "documents", licence))
    assert shown["detail"]["missing_documents"] == []
    assert _ok(await _post(customs, case, "release", {"everything": True}))["status"] == "cleared"


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("declaration", {"declaration_number": "10412345", "declaration_type": "full"},
         "declaration_number"),
        ("declaration", {"declaration_number": "104123456789", "declaration_type": "provisional"},
         "completion_deadline"),
        ("lane", {"lane": "blue"}, "lane"),
        ("holds", {"reason": "weather"}, "reason"),
        ("release", {}, "body"),
        ("release", {"everything": True, "lots": [{"line_no": 1, "quantity": 1}]}, "body"),
        ("release", {"lots": [{"line_no": 1, "lot_number": "ZZ", "quantity": 1}]}, "lots.0"),
        ("refusal", {"everything": True, "outcome": "re_export", "reason": ""}, "reason"),
        ("examination", {"place": "airport", "extra": 1}, "extra"),
    ],
)  # fmt: skip
async def test_bad_input_gets_a_problem_per_field_and_changes_nothing(
    customs: Client, step: str, body: dict[str, Any], field: str
) -> None:
    case = await _case(customs[2])
    problem = _problem(await _post(customs, case, step, body), 422)
    fields = [e["field"] for e in problem.get("errors") or [{"field": problem.get("field", "")}]]
    assert any(field in f for f in fields), problem
    http, settings, _ = customs
    history = await http.get(
        f"/api/v1/clearances/{case}/history", headers=bearer("customs.han", settings)
    )
    assert len(history.json()) == 2


async def test_conflicts_say_why(customs: Client) -> None:
    waiting = await _case(customs[2], arrived=False)
    assert "not arrived" in _problem(await _post(customs, waiting, "examination", {
        "place": "airport"}), 409)["detail"]  # fmt: skip
    case = await _case(customs[2])
    assert "declaration" in _problem(await _post(customs, case, "release", {
        "everything": True}), 409)["detail"]  # fmt: skip
    _ok(await _post(customs, case, "holds", {"reason": "inspection"}))
    fast = {"declaration_number": "104123456789"}
    assert "H1" in _problem(await _post(customs, case, "fast-track", fast), 409)["detail"]
    _problem(await _post(customs, case, "holds/H7/release", {}), 404)
    _ok(await _post(customs, case, "holds/H1/release", {}))
    assert "already released" in _problem(await _post(customs, case, "holds/H1/release", {}),
                                          409)["detail"]  # fmt: skip
    refused = {"everything": True, "outcome": "destruction", "reason": "temperature excursion"}
    done = _ok(await _post(customs, case, "refusal", refused))
    assert done["refused_total"] == 1000 and done["released_total"] == 0
    assert _problem(await _post(customs, case, "fast-track", fast), 409)


async def test_an_officer_cannot_touch_another_airports_case(customs: Client) -> None:
    case = await _case(customs[2], airport="SGN")
    assert (
        await _post(customs, case, "lane", {"lane": "green"}, user="customs.han")
    ).status_code == 403
    assert (await _post(customs, case, "lane", {"lane": "green"}, user="viewer")).status_code == 403
    http, settings, _ = customs
    for path in (f"/api/v1/clearances/{case}", f"/api/v1/clearances/{case}/history"):
        assert (await http.get(path, headers=bearer("customs.han", settings))).status_code == 403
    fast = {"declaration_number": "104123456789"}
    assert (await _post(customs, case, "fast-track", fast, user="customs.han")).status_code == 403
    unknown = uuid.uuid4()
    for step, body in (("lane", {"lane": "green"}), ("fast-track", fast)):
        missing = _problem(await _post(customs, unknown, step, body, user="customs.han"), 404)
        assert missing["type"].endswith("/case-not-found")
    _ok(await _post(customs, case, "lane", {"lane": "green"}, user="customs.sgn"))
