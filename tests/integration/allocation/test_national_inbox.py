"""A national recipient's inbox through allocation's API, in-process on real PostgreSQL and
Kafka: China's Ministry of National Defence gives to Viet Nam's (the earmark policy, on the
fast track), and the army's officer reads, acknowledges and receives its notice as a province
does, with several reasons on one lot; scoping, unknown codes, idempotent retries and the
provinces' paths of before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.allocation import domain, main
from services.allocation.application import allocations_in
from services.allocation.commands import draft_for
from shared.eventstore import EventStore
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import all_topics
from tests.integration.allocation.test_delivery_api import DISPATCH, Served, call, problem
from tests.integration.apps import serving, settings_for
from tests.integration.layers import METADATA, run
from tests.unit.builders import NOW, SHIPMENT, cleared, line, lot

pytestmark = pytest.mark.integration

LINE = line(1, 200_000, lots=(lot("V1", 120_000), lot("V2", 80_000, days=300)))
DONOR = "China Ministry of National Defence"
NUMBER = domain.notice_number_for(domain.round_id_for(SHIPMENT), "MOD", 1)
NOTICE = f"/api/v1/recipients/MOD/notices/{NUMBER}"
ARMY = "recipient-mod"


@pytest.fixture
async def allocation(database: str, kafka: KafkaBroker, pool: Any) -> AsyncIterator[Served]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("allocation", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(main.SPEC, settings, main.ROUTERS)) as client:
        gift = cleared((LINE,)).model_copy(update={"donor": DONOR})
        decide = draft_for(gift, NOW)  # the earmark, approved automatically on the fast track
        handler = allocations_in(EventStore("allocation"))
        await run(pool, lambda conn: handler.handle(conn, str(SHIPMENT), decide, METADATA))
        yield client, settings


def two_reasons(notice: dict[str, Any]) -> dict[str, Any]:
    """The first lot: 10 short and 5 damaged; the others in full."""
    lots = []
    for index, sent in enumerate(notice["dispatched_lots"]):
        rejections = (
            [
                {"reason": "short", "quantity": 10, "note": "one carton missing"},
                {"reason": "damaged", "quantity": 5, "note": "crushed"},
            ]
            if index == 0
            else []
        )
        rejected = sum(r["quantity"] for r in rejections)
        lots.append(
            {
                "lot_number": sent["lot_number"],
                "counted": sent["quantity"],
                "accepted": sent["quantity"] - rejected,
                "rejections": rejections,
            }
        )
    return {"lots": lots}


async def test_the_army_receives_its_notice_with_two_reasons_on_one_lot(
    allocation: Served,
) -> None:
    inbox = await call(allocation, ARMY, "/api/v1/recipients/MOD/notices")
    assert inbox.status_code == 200, inbox.text
    [listed] = inbox.json()["items"]
    assert listed["notice_number"] == NUMBER and listed["status"] == "issued"
    assert listed["quantity"] == 200_000
    issued = await call(allocation, ARMY, "/api/v1/recipients/MOD/notices?status=issued")
    old_name = await call(allocation, ARMY, "/api/v1/recipients/MOD/notices?status=new")
    assert issued.json()["items"] == old_name.json()["items"] == [listed]  # old clients

    acknowledged = await call(allocation, ARMY, f"{NOTICE}/acknowledge", {}, key="a-1")
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    dispatched = await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH, key="d-1")
    assert dispatched.status_code == 200, dispatched.text
    notice = dispatched.json()
    assert notice["status"] == "dispatched" and len(notice["dispatched_lots"]) == 2

    body = two_reasons(notice)
    received = await call(allocation, ARMY, f"{NOTICE}/receipt", body, key="r-1")
    assert received.status_code == 200, received.text
    answer = received.json()
    assert answer["status"] == "received_with_discrepancies"
    assert answer["rejected_quantity"] == 15
    first = answer["received_lots"][0]
    assert [(r["reason"], r["quantity"]) for r in first["rejections"]] == [
        ("short", 10),
        ("damaged", 5),
    ]
    again = await call(allocation, ARMY, f"{NOTICE}/receipt", body, key="r-1")
    assert again.status_code == 200 and again.json() == answer  # the retry: the first answer
    problem(
        await call(allocation, ARMY, f"{NOTICE}/receipt", body, key="r-2"), 409, "already-received"
    )
    national = (await call(allocation, "viewer", "/api/v1/discrepancies")).json()["items"]
    assert [n["notice_number"] for n in national] == [NUMBER]


async def test_a_reason_given_twice_on_a_lot_is_a_problem_on_its_field(
    allocation: Served,
) -> None:
    notice = (await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH)).json()
    twice = two_reasons(notice)
    twice["lots"][0]["rejections"][1]["reason"] = "short"
    body = problem(
        await call(allocation, ARMY, f"{NOTICE}/receipt", twice), 422, "duplicate-reason"
    )
    assert [e["field"] for e in body["errors"]] == ["lots/0/rejections/1/reason"]
    off = two_reasons(notice)
    off["lots"][0]["accepted"] += 1  # accepted + 10 + 5 is one more than dispatched
    body = problem(await call(allocation, ARMY, f"{NOTICE}/receipt", off), 422)
    assert [e["field"] for e in body["errors"]] == ["lots/0"]
    assert "must equal counted" in body["errors"][0]["message"]
    status = (await call(allocation, ARMY, NOTICE)).json()["status"]
    assert status == "dispatched"  # nothing half-written


async def test_recipients_are_scoped_and_codes_known(allocation: Served) -> None:
    await call(allocation, "store.nepi", f"{NOTICE}/dispatch", DISPATCH)
    notice = (await call(allocation, ARMY, NOTICE)).json()
    # the police's officer, and a province's, may not read or receive the army's notice
    for other in ("recipient-mps", "province-01"):
        problem(await call(allocation, other, NOTICE), 403)
        problem(await call(allocation, other, f"{NOTICE}/receipt", two_reasons(notice)), 403)
    # nor may the army's officer read a province's inbox, or dispatch
    problem(await call(allocation, ARMY, "/api/v1/recipients/01/notices"), 403)
    problem(await call(allocation, ARMY, f"{NOTICE}/dispatch", DISPATCH), 403)
    # national roles read every inbox
    assert (await call(allocation, "viewer", NOTICE)).status_code == 200
    # unknown codes; a national code on the provinces' paths, which stay for provinces
    problem(await call(allocation, "viewer", "/api/v1/recipients/XYZ/notices"), 404)
    problem(
        await call(
            allocation, "store.nepi", "/api/v1/recipients/XYZ/notices/N-1/dispatch", DISPATCH
        ),
        404,
        "recipient-not-found",
    )
    problem(
        await call(allocation, "viewer", f"/api/v1/provinces/MOD/notices/{NUMBER}"),
        404,
        "province-not-found",
    )
    client, _ = allocation
    anonymous = await client.get(f"/api/v1/provinces/MOD/notices/{NUMBER}")
    assert anonymous.status_code == 401  # signing in comes first
    # a province on the recipients' paths and on its own, the same inbox
    by_recipient = await call(allocation, "province-01", "/api/v1/recipients/01/notices")
    by_province = await call(allocation, "province-01", "/api/v1/provinces/01/notices")
    assert by_recipient.status_code == by_province.status_code == 200
    assert by_recipient.json() == by_province.json()


async def test_a_national_recipient_registers_a_webhook(allocation: Served) -> None:
    hook = {"url": "http://127.0.0.1:9/army-hook", "description": "army cold store"}
    path = "/api/v1/recipients/MOD/webhooks"
    created = await call(allocation, ARMY, path, hook, key="w-1")
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    listed = (await call(allocation, "viewer", path)).json()
    assert [e["url"] for e in listed] == [hook["url"]]
    problem(await call(allocation, "recipient-mps", path, hook), 403)
    problem(await call(allocation, ARMY, "/api/v1/provinces/MOD/webhooks", hook), 404)
