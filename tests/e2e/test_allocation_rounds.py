"""Allocation as the Ministry decided it in 2021, through the public APIs, with real Kafka
and PostgreSQL: a customs release (``GoodsReleased`` on the customs topic) yields a draft;
an officer adjusts or redrafts it; a second person approves it with a decision number; only
then do the notices reach the provinces; an amendment before dispatch; a reserve release.

Decisions (a), (b) and (c) of the 2021 reference sheet are replayed as policies, and every
figure they publish is checked (old provinces in their 2025 successors)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts.customs import GoodsReleased, Lane
from shared.contracts.values import Category, LineItem, Lot, Storage, Unit
from shared.envelope import to_kafka
from shared.eventstore import RecordedEvent
from shared.settings import topic_of
from tests.e2e.flows import inbox
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e

OFFICER, APPROVER = "allocation.moh", "approver.moh"


def release(donor: str, product: str, doses: int, pack: int, storage: Storage) -> GoodsReleased:
    expiry = date.today() + timedelta(days=200)
    half = doses // 2
    return GoodsReleased(
        shipment_id=uuid.uuid4(),
        release_no=1,
        airport="HAN",
        donor=donor,
        declaration_number="104000000001",
        lane=Lane.GREEN,
        partial=False,
        released_by="customs.han",
        released_at=datetime.now(UTC),
        lines=(
            LineItem(
                line_no=1,
                product=product,
                category=Category.VACCINE,
                unit=Unit.DOSES,
                pack_size=pack,
                quantity=doses,
                storage=storage,
                lots=(
                    Lot(lot_number="L1", expiry_date=expiry, quantity=half),
                    Lot(
                        lot_number="L2",
                        expiry_date=expiry + timedelta(days=30),
                        quantity=doses - half,
                    ),
                ),
            ),
        ),
    )


async def produce(stack: Stack, *events: GoodsReleased) -> None:
    """As customs' relay publishes them: CloudEvents headers, keyed by the shipment."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            recorded = RecordedEvent(
                position=1,
                stream_id=str(event.shipment_id),
                stream_version=5,
                event_id=uuid.uuid4(),
                event_type=GoodsReleased.event_type,
                data=event.to_data(),
                metadata={"actor": "customs.han", "actor_role": "customs_officer"},
                recorded_at=datetime.now(UTC),
            )
            record = to_kafka(recorded, "aidport/customs")
            await producer.send_and_wait(
                topic_of("customs", stack.prefix), record.value, record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def call(
    stack: Stack, client: httpx.AsyncClient, user: str, method: str, path: str, **kw: Any
) -> httpx.Response:
    return await stack.call(client, user, method, "allocation", path, **kw)


async def draft_of(stack: Stack, client: httpx.AsyncClient, shipment_id: uuid.UUID) -> Any:
    async def found() -> Any:
        response = await call(stack, client, OFFICER, "GET", f"/api/v1/rounds/{shipment_id}")
        return response.json() if response.status_code == 200 else None

    return await until(found)


def shares(round_: dict[str, Any]) -> dict[str, int]:
    [line] = round_["lines"]
    return {s["recipient_code"]: s["quantity"] for s in line["shares"] if s["quantity"]}


async def approve(
    stack: Stack, client: httpx.AsyncClient, round_id: str, number: str, user: str = APPROVER
) -> httpx.Response:
    return await call(
        stack,
        client,
        user,
        "POST",
        f"/api/v1/rounds/{round_id}/approve",
        json={"decision_number": number, "decision_date": "2021-07-12"},
        headers={"Idempotency-Key": f"approve-{round_id}-{user}"},
    )


async def notices_of(
    stack: Stack, client: httpx.AsyncClient, code: str, round_id: str
) -> list[dict[str, Any]]:
    items = (await inbox(stack, client, code)).json()["items"]
    return [n for n in items if n["round_id"] == round_id]


async def test_the_2021_decisions_replayed_with_four_eyes_approval(stack: Stack) -> None:
    stack.start("allocation")
    china = release("China (government)", "Vero Cell (Sinopharm)", 500_000, 1, Storage.COLD_2_8)
    moderna = release("USA via COVAX", "Spikevax (Moderna)", 2_000_040, 14, Storage.FROZEN_25_15)
    astrazeneca = release("COVAX", "Vaxzevria (AstraZeneca)", 811_200, 10, Storage.COLD_2_8)
    await produce(stack, china, moderna, astrazeneca)
    async with httpx.AsyncClient(timeout=30) as client:
        # (b) Decision 3400/QĐ-BYT: chosen by donor and product, drafted, nothing sent yet.
        b = await draft_of(stack, client, moderna.shipment_id)
        assert b["status"] == "drafted" and b["policy_id"] == "moderna-covax-3400-2021"
        assert b["round_id"] == f"R-{moderna.shipment_id.hex.upper()}-1"
        assert await notices_of(stack, client, "79", b["round_id"]) == []
        given = shares(b)
        assert (given["MOD"], given["MPS"], given["79"], given["MOHH"]) == (
            42_000,
            33_600,
            235_200,
            158_760,
        )
        assert (given["01"], given["22"], given["75"], given["31"], given["24"], given["80"]) == (
            120_960,
            42_000,
            65_520,
            40_320 + 43_680,
            40_320 + 40_320,
            31_920,
        )
        assert sum(given.values()) + b["lines"][0]["reserve_quantity"] == 2_000_040
        assert all(q % 1680 == 0 for c, q in given.items() if c != "MOHH")

        drafted = await call(stack, client, OFFICER, "GET", "/api/v1/rounds?status=drafted")
        assert b["round_id"] in {r["round_id"] for r in drafted.json()}
        # The officer may not sign; the approver signs, then the notices go out.
        assert (
            await approve(stack, client, b["round_id"], "3400/QĐ-BYT", OFFICER)
        ).status_code == 403
        approved = await approve(stack, client, b["round_id"], "3400/QĐ-BYT")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["approved_by"] == APPROVER
        again = await approve(stack, client, b["round_id"], "3400/QĐ-BYT")
        assert again.status_code == 200  # the same key: the first answer
        [hcmc] = await notices_of(stack, client, "79", b["round_id"])
        assert hcmc["quantity"] == 235_200 and hcmc["decision_number"] == "3400/QĐ-BYT"
        assert hcmc["released_at"] is not None

        # An amendment before dispatch: one carton from Da Nang to Hue.
        danang, hue = given["48"], given.get("46", 0)
        amended = await call(
            stack,
            client,
            APPROVER,
            "POST",
            f"/api/v1/rounds/{b['round_id']}/amendments",
            json={
                "decision_number": "3401/QĐ-BYT",
                "decision_date": "2021-07-14",
                "reason": "Hue outbreak",
                "changes": [
                    {"line_no": 1, "recipient_code": "48", "quantity": danang - 1680},
                    {"line_no": 1, "recipient_code": "46", "quantity": hue + 1680},
                ],
            },
        )
        assert amended.status_code == 200, amended.text
        assert shares(amended.json())["46"] == hue + 1680
        [hue_notice] = await notices_of(stack, client, "46", b["round_id"])
        assert hue_notice["quantity"] == hue + 1680
        assert hue_notice["decision_number"] == "3401/QĐ-BYT"
        annex = await call(stack, client, APPROVER, "GET", f"/rounds/{b['round_id']}/annex")
        assert annex.status_code == 200 and "3401/QĐ-BYT" in annex.text

        # (a) China's earmarked doses: every published figure, 600 for lot testing.
        a = await draft_of(stack, client, china.shipment_id)
        assert a["policy_id"] == "china-vero-cell-border-2021"
        assert shares(a) == {
            "22": 230_000,
            "20": 121_000,
            "04": 60_000,
            "08": 34_000,
            "11": 28_000,
            "15": 17_300,
            "12": 6_000,
            "37": 1_700,
            "33": 1_400,
            "NICVB": 600,
        }
        assert (await approve(stack, client, a["round_id"], "2213/QĐ-BYT")).status_code == 200

        # (c) The first AstraZeneca lot: drafted under the default, redrafted under its policy.
        c = await draft_of(stack, client, astrazeneca.shipment_id)
        assert c["policy_id"] == "population-share" and not c["automatic"]
        redrafted = await call(
            stack,
            client,
            OFFICER,
            "POST",
            f"/api/v1/rounds/{c['round_id']}/redraft",
            json={"policy_id": "astrazeneca-covax-first-2021"},
        )
        assert redrafted.status_code == 200, redrafted.text
        c = redrafted.json()
        given = shares(c)
        published = {"01": 53_350, "79": 56_250, "31": 43_700, "38": 18_000, "40": 20_000}
        published |= {"MPS": 30_000, "MOD": 80_000, "NEPI": 20_000}
        assert {k: given[k] for k in published} == published and c["use_by"] == "2021-05-15"
        # The officer keeps 10,000 doses of Ca Mau's share in the national reserve.
        kept = await call(
            stack,
            client,
            OFFICER,
            "POST",
            f"/api/v1/rounds/{c['round_id']}/adjustments",
            json={
                "reason": "keep a buffer for outbreaks",
                "changes": [
                    {"line_no": 1, "recipient_code": "96", "quantity": given["96"] - 10_000},
                    {
                        "line_no": 1,
                        "recipient_code": "reserve",
                        "quantity": c["lines"][0]["reserve_quantity"] + 10_000,
                    },
                ],
            },
        )
        assert kept.status_code == 200, kept.text
        unbalanced = await call(
            stack,
            client,
            OFFICER,
            "POST",
            f"/api/v1/rounds/{c['round_id']}/adjustments",
            json={
                "reason": "x",
                "changes": [{"line_no": 1, "recipient_code": "96", "quantity": 0}],
            },
        )
        assert unbalanced.status_code == 422
        assert unbalanced.headers["content-type"].startswith("application/problem+json")
        assert (await approve(stack, client, c["round_id"], "1/QĐ-BYT", "admin")).status_code == 200

        # A release from the national reserve: drafted, then approved by another person.
        reserve = await call(
            stack, client, APPROVER, "GET", f"/api/v1/reserve/{astrazeneca.shipment_id}"
        )
        held = sum(x["quantity"] for x in reserve.json()["lines"][0]["lots"])
        assert held >= 10_000 and reserve.json()["holder"] == "NEPI"
        released = await call(
            stack,
            client,
            OFFICER,
            "POST",
            "/api/v1/reserve/releases",
            json={
                "shipment_id": str(astrazeneca.shipment_id),
                "lines": [{"line_no": 1, "quantity": 10_000}],
            },
        )
        assert released.status_code == 201, released.text
        res = released.json()
        assert res["source"] == "reserve" and res["status"] == "drafted"
        assert sum(shares(res).values()) + res["lines"][0]["reserve_quantity"] == 10_000
        too_much = await call(
            stack,
            client,
            OFFICER,
            "POST",
            "/api/v1/reserve/releases",
            json={
                "shipment_id": str(astrazeneca.shipment_id),
                "lines": [{"line_no": 1, "quantity": held}],
            },
        )
        assert too_much.status_code == 422  # the draft holds 10,000 already
        assert (await approve(stack, client, res["round_id"], "2/QĐ-BYT")).status_code == 200


async def test_four_eyes_over_http(stack: Stack) -> None:
    stack.start("allocation")
    doses = release("Japan", "Vaxzevria (AstraZeneca)", 100_000, 10, Storage.COLD_2_8)
    await produce(stack, doses)
    async with httpx.AsyncClient(timeout=30) as client:
        draft = await draft_of(stack, client, doses.shipment_id)
        given = shares(draft)
        moved = await call(
            stack,
            client,
            "admin",
            "POST",
            f"/api/v1/rounds/{draft['round_id']}/adjustments",
            json={
                "reason": "outbreak",
                "changes": [
                    {"line_no": 1, "recipient_code": "79", "quantity": given["79"] + 10},
                    {"line_no": 1, "recipient_code": "01", "quantity": given["01"] - 10},
                ],
            },
        )
        assert moved.status_code == 200, moved.text
        own = await approve(stack, client, draft["round_id"], "5/QĐ-BYT", "admin")
        assert own.status_code == 403 and "four-eyes" in own.text
        assert await notices_of(stack, client, "79", draft["round_id"]) == []
        other = await approve(stack, client, draft["round_id"], "5/QĐ-BYT")
        assert other.status_code == 200
        [hcmc] = await notices_of(stack, client, "79", draft["round_id"])
        assert hcmc["quantity"] == given["79"] + 10
