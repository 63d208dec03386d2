"""The national picture through the public APIs: a consignment announced, arrived, fast-
tracked, allocated and acknowledged by the three services, and what reporting (a fourth
process, on the same Kafka topics) shows of it, live and as it stood before."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import openpyxl
import pytest

from shared.reference_data import province_codes
from tests.e2e.flows import allocation_round, announce_and_arrive, fast_track, inbox
from tests.e2e.stack import Stack, until
from tests.e2e.test_pages_and_live_feed import sign_in

pytestmark = pytest.mark.e2e
DOSES = 100_000


async def _timeline(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> list[Any]:
    response = await stack.call(
        client, "viewer", "GET", "reporting", f"/api/v1/shipments/{shipment_id}/timeline"
    )
    return response.json()["events"] if response.status_code == 200 else []


async def _acknowledged(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> bool:
    events = await _timeline(stack, client, shipment_id)
    return any(e["event"] == "NoticeAcknowledged" for e in events)


async def _a_national_recipient_reads_its_own_summary(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    army = await stack.call(
        client, "recipient-mod", "GET", "reporting", "/api/v1/recipients/MOD/summary"
    )
    assert army.status_code == 200
    assert army.json()["recipient"]["code"] == "MOD" and army.json()["notices"] == []
    csv = await stack.call(
        client, "recipient-mod", "GET", "reporting", "/api/v1/recipients/MOD/summary",
        params={"format": "csv", "table": "recipient"},
    )  # fmt: skip
    assert csv.text.splitlines()[0] == "\ufeffcode,name_vi,name_en,allocated_doses,received_doses"
    for user, code, status in [("recipient-mod", "MPS", 403), ("province-01", "MOD", 403),
                               ("viewer", "MPS", 200), ("viewer", "XX", 404)]:  # fmt: skip
        answer = await stack.call(
            client, user, "GET", "reporting", f"/api/v1/recipients/{code}/summary"
        )
        assert answer.status_code == status, (user, code, answer.text)


async def _reporting(stack: Stack, client: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await stack.call(client, "viewer", "GET", "reporting", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_national_picture_of_one_consignment(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        events: list[str] = []
        token = await stack.token(client, "viewer", "reporting")

        async def listen() -> None:
            async with client.stream(
                "GET",
                f"{stack.url('reporting')}/api/v1/dashboard/stream",
                headers={"Authorization": f"Bearer {token}"},
            ) as stream:
                async for line in stream.aiter_lines():
                    events.append(line)

        listener = asyncio.create_task(listen())
        await until(lambda: _has(events, "retry:"))

        before = datetime.now(UTC).isoformat()
        shipment = await announce_and_arrive(stack, client, "738-40000001", DOSES)
        shipment_id = shipment["shipment_id"]
        assert (await fast_track(stack, client, shipment_id)).status_code == 200
        round_ = await until(lambda: allocation_round(stack, client, shipment_id))
        notice = (await until(lambda: _own_notice(stack, client, shipment_id)))["notice_number"]
        await until(lambda: _in_reporting(stack, client, shipment_id, "AllocatedToProvince"))
        allocated_moment = datetime.now(UTC).isoformat()
        path = f"/api/v1/provinces/01/notices/{notice}/acknowledge"
        ack = await stack.call(client, "province-01", "POST", "allocation", path)
        assert ack.status_code == 200, ack.text
        await until(lambda: _acknowledged(stack, client, shipment_id), timeout=60)
        await until(lambda: _has(events, "event: changed"))
        listener.cancel()

        # the live picture
        view = await _reporting(stack, client, "/api/v1/dashboard")
        stages = {r["stage"]: r for r in view["pipeline"]}
        assert stages["allocated_approved"] == {
            "stage": "allocated_approved",
            "consignments": 1,
            "doses": DOSES,
        }
        assert [(d["key"], d["announced_doses"]) for d in view["donors"]] == [("COVAX", DOSES)]
        assert [c["key"] for c in view["channels"]] == ["covax"]
        reserve = round_["lines"][0]["reserve_quantity"]
        allocated = sum(p["allocated_doses"] for p in view["provinces"])
        assert allocated + reserve == DOSES
        assert all(p["basis"] == "allocated" for p in view["provinces"])
        clearance = next(d for d in view["lead_times"] if d["step"] == "aircraft_to_release")
        assert clearance["count"] == 1

        # a province, a donor, a timeline
        summary = await stack.call(
            client, "province-01", "GET", "reporting", "/api/v1/provinces/01/summary"
        )
        assert summary.status_code == 200
        (mine,) = summary.json()["notices"]
        assert mine["notice_number"] == notice and mine["acknowledged_at"] is not None
        other = await stack.call(
            client, "province-01", "GET", "reporting", "/api/v1/provinces/79/summary"
        )
        assert other.status_code == 403
        assert other.headers["content-type"].startswith("application/problem+json")
        await _a_national_recipient_reads_its_own_summary(stack, client)
        donor = await _reporting(stack, client, "/api/v1/donors/COVAX/report")
        (consignment,) = donor["consignments"]
        assert consignment["airway_bill"] == "738-40000001"
        assert consignment["released_at"] is not None
        assert {r["province_code"] for r in consignment["recipients"]} == set(province_codes())
        timeline = await _timeline(stack, client, shipment_id)
        services = {e["service"] for e in timeline}
        assert services == {"intake", "customs", "allocation"}
        actors = {e["actor"] for e in timeline}
        assert {"intake.han", "customs.han", "province-01"} <= actors

        # as it stood before
        empty = await _reporting(stack, client, "/api/v1/dashboard", as_of=before)
        assert sum(r["consignments"] for r in empty["pipeline"]) == 0
        missing = await stack.call(
            client,
            "viewer",
            "GET",
            "reporting",
            f"/api/v1/shipments/{shipment_id}/timeline",
            params={"as_of": before},
        )
        assert missing.status_code == 404
        then = await _reporting(
            stack, client, "/api/v1/provinces/01/summary", as_of=allocated_moment
        )
        assert then["notices"][0]["acknowledged_at"] is None
        bad = await stack.call(
            client, "viewer", "GET", "reporting", "/api/v1/dashboard", params={"as_of": "soon"}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")

        # exports
        exported = await stack.call(
            client,
            "viewer",
            "GET",
            "reporting",
            "/api/v1/dashboard",
            params={"format": "csv", "table": "provinces"},
        )
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert len(rows) == 34 and sum(int(r["allocated_doses"]) for r in rows) == allocated
        workbook = await stack.call(
            client,
            "viewer",
            "GET",
            "reporting",
            "/api/v1/donors/COVAX/report",
            params={"format": "xlsx"},
        )
        book = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True)
        recipients = list(book["recipients"].iter_rows(values_only=True))
        assert len(recipients) == 1 + 34


async def test_the_dashboard_page_in_both_languages(stack: Stack) -> None:
    stack.start("reporting")
    url = stack.url("reporting")
    async with httpx.AsyncClient(timeout=30) as browser:
        assert (await browser.get(f"{url}/")).status_code == 303
        await sign_in(browser, url, "viewer", "reporting")
        english = await browser.get(f"{url}/", params={"lang": "en"})
        assert english.status_code == 200 and "National picture" in english.text
        assert "<svg" in english.text and "Content-Security-Policy" in english.headers
        vietnamese = await browser.get(f"{url}/", params={"lang": "vi"})
        assert "Bức tranh toàn quốc" in vietnamese.text
        bad = await browser.get(f"{url}/", params={"as_of": "soon", "lang": "en"})
        assert bad.status_code == 200 and 'id="as_of_error"' in bad.text
        exported = await browser.get(f"{url}/api/v1/dashboard", params={"format": "xlsx"})
        assert exported.status_code == 200  # the session cookie reads the API too
        await sign_in(browser, url, "province-01", "reporting")
        home = await browser.get(f"{url}/")
        assert home.status_code == 303 and home.headers["location"] == "/provinces/01"
        assert (await browser.get(f"{url}/provinces/79")).status_code == 403


async def _has(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


async def _own_notice(
    stack: Stack, client: httpx.AsyncClient, shipment_id: str
) -> dict[str, Any] | None:
    response = await inbox(stack, client, "01")
    if response.status_code != 200:
        return None
    return next((n for n in response.json()["items"] if n["shipment_id"] == shipment_id), None)


async def _in_reporting(
    stack: Stack, client: httpx.AsyncClient, shipment_id: str, event: str
) -> bool:
    return any(e["event"] == event for e in await _timeline(stack, client, shipment_id))
