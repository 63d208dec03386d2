"""The pages after the announcement, in Chromium: an arrival inspected with a rejection and its
Vaccine Arrival Report, a customs case taken step by step to a release in two parts, the
allocation desk's draft adjusted and approved, the province inbox through dispatch to receipt,
the national dashboard's charts, and the inspection and receipt forms with the keyboard alone.

What a test does not look at is set up through the public API (tests/e2e/flows.py), so each
test drives only the pages it is about."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import keyboard as keys
from tests.browser import steps
from tests.browser.people import People
from tests.e2e.flows import arrival_of, case_status, fast_track, vaccine_consignment
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e


def airway_bill() -> str:
    return f"738-{uuid.uuid4().int % 10**8:08d}"


async def announced(
    stack: Stack, client: httpx.AsyncClient, bill: str, product: str | None = None
) -> dict[str, Any]:
    body = vaccine_consignment(bill, doses=80_000)
    if product:
        body["lines"][0]["product"] = product
    response = await stack.call(
        client, "intake.han", "POST", "intake", "/api/v1/shipments", json=body,
        headers={"Idempotency-Key": f"announce-{bill}"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    shipment: dict[str, Any] = response.json()
    return shipment


async def arrived(stack: Stack, client: httpx.AsyncClient, shipment: dict[str, Any]) -> None:
    response = await stack.call(
        client, "intake.han", "POST", "intake",
        f"/api/v1/shipments/{shipment['shipment_id']}/arrival", json=arrival_of(shipment),
    )  # fmt: skip
    assert response.status_code == 200, response.text


async def in_province_inbox(stack: Stack, bill: str, product: str) -> dict[str, Any]:
    """A consignment announced, arrived and cleared on the fast track: its notices are in the
    provinces' inboxes a moment later."""
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announced(stack, client, bill, product)
        await arrived(stack, client, shipment)
        assert (await fast_track(stack, client, shipment["shipment_id"])).status_code == 200
    return shipment


async def test_an_arrival_inspected_with_a_rejection_and_its_var_filed(
    people: People, web_stack: Stack
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announced(web_stack, client, airway_bill())
    shipment_id = shipment["shipment_id"]
    intake = await people.new("intake")
    await steps.sign_in(intake, "supervisor.han")
    page = await intake.open(f"/shipments/{shipment_id}")
    await page.click(f"a[href='/shipments/{shipment_id}/inspection']")
    await expect(page.locator("fieldset[data-field='lots/0']")).to_be_visible()
    await people.shoot(intake, "inspection")

    await steps.inspect_with_rejection(
        intake, shipment_id, reason="damaged", rejected=2_000, inspected_by="Nguyễn Văn An"
    )
    first_part = page.locator("main table").nth(1)  # the lines, then part 1
    await expect(first_part.locator("tbody tr").first).to_contain_text("48,000")  # accepted
    await expect(first_part.locator("tbody tr").first).to_contain_text("2,000")  # rejected
    reports = page.locator(f"a[href='/shipments/{shipment_id}/var']")
    await expect(page.locator(f"a[href^='/shipments/{shipment_id}/var/']")).to_have_count(0)
    await people.shoot(intake, "shipment-inspected")

    await reports.click()
    sheet = page.locator("article.var-sheet")
    await expect(sheet).to_have_count(1)
    await expect(sheet).to_contain_text("Nguyễn Văn An")
    await expect(sheet.locator("table tbody tr").first).to_contain_text("2,000")
    await people.shoot(intake, "var-print")


async def test_a_customs_case_from_declaration_to_release_in_two_parts(
    people: People, web_stack: Stack
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announced(web_stack, client, bill := airway_bill())
        await arrived(web_stack, client, shipment)
    first, second = shipment["lines"][0]["lots"]
    customs = await people.new("customs")
    await steps.sign_in(customs, "customs.han")
    case = await steps.customs_case(customs, bill)  # the queue links to the case page
    await case.locator(f"a[href='/cases/{shipment['shipment_id']}']").first.click()
    page = await steps.open_case(customs, shipment["shipment_id"])

    declaration = f"104{uuid.uuid4().int % 10**9:09d}"
    await steps.case_step(
        customs,
        "declaration",
        {
            "declaration_number": declaration,
            "declaration_type": "simplified",
            "exemption_basis": "Resolution 106/NQ-CP",
        },
    )
    await expect(page.locator("main")).to_contain_text(declaration)
    for document in ("airway_bill", "packing_list", "donation_letter"):
        await steps.case_step(customs, "documents", {"document": document, "status": "received"})
    await steps.case_step(customs, "lane", {"lane": "green"})
    await people.shoot(customs, "customs-case")

    await steps.release_goods(customs, {first["lot_number"]: 10_000})
    await expect(page.locator("h1 .status.arrived")).to_be_visible()
    lots = page.locator("section[aria-labelledby=lots-h] tbody tr")
    await expect(lots.first).to_contain_text("10,000")
    await steps.release_goods(customs)  # the rest
    await expect(page.locator("h1 .status.closed")).to_be_visible()  # completed: all released
    await expect(page.locator("form.step[data-step=release]")).to_have_count(0)
    await expect(lots.nth(1)).to_contain_text(f"{second['quantity']:,}")
    await people.shoot(customs, "customs-case-cleared")


async def test_a_province_acknowledges_the_store_dispatches_the_province_confirms_receipt(
    people: People, web_stack: Stack
) -> None:
    product = f"Spikevax {uuid.uuid4().hex[:6]}"
    await in_province_inbox(web_stack, airway_bill(), product)
    province, store = await people.new("allocation"), await people.new("allocation")
    await steps.sign_in(province, "province-01")
    await steps.sign_in(store, "store.nepi")

    await steps.acknowledge_notice(province, "01", product)
    await steps.reload_until(
        store, "/dispatch?province=01", f"section.card:has(h2:has-text('{product}'))"
    )
    await people.shoot(store, "dispatch-desk")
    await steps.dispatch_notice(store, "01", product, carrier="Viettel Post cold chain")

    notice = await steps.confirm_receipt(province, "01", product, {"short": 10, "damaged": 5})
    await expect(notice).to_contain_text("Viettel Post cold chain")
    await expect(notice).to_contain_text(re.compile(r"(Rejected|Không nhận): 15 "))
    await people.shoot(province, "province-receipt")


async def test_the_dashboard_draws_its_charts_each_with_a_table(
    people: People, web_stack: Stack
) -> None:
    product = f"Comirnaty {uuid.uuid4().hex[:6]}"
    shipment = await in_province_inbox(web_stack, airway_bill(), product)
    viewer = await people.new("reporting")
    await steps.sign_in(viewer, "viewer")
    # The events reach reporting through Kafka: wait until its timeline has the allocation.
    timeline = f"/shipments/{shipment['shipment_id']}"
    await steps.reload_until(viewer, timeline, "main table tbody tr:has-text('Allocation')")
    charts = await steps.dashboard_charts(viewer)
    assert await charts.count() >= 3  # pipeline, provinces, totals
    await expect(viewer.page.locator("#dashboard svg.chart title").first).not_to_be_empty()
    await people.shoot(viewer, "dashboard")

    await viewer.open("/donors/COVAX")
    await expect(viewer.page.locator("main table").first).to_be_visible()
    await people.shoot(viewer, "donor-report")


async def test_the_inspection_and_receipt_forms_with_the_keyboard_alone(
    people: People, web_stack: Stack
) -> None:
    product = f"Vaxzevria {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announced(web_stack, client, airway_bill())
    await in_province_inbox(web_stack, airway_bill(), product)
    intake, province, store = (
        await people.new("intake"),
        await people.new("allocation"),
        await people.new("allocation"),
    )
    await steps.sign_in(intake, "intake.han")
    await steps.sign_in(province, "province-01")
    await steps.sign_in(store, "store.nepi")

    shipment_id = shipment["shipment_id"]
    page = await intake.open(f"/shipments/{shipment_id}/inspection")
    await keys.type_into(page, "input[data-path='lots/0/rejections/0/quantity']", "500")
    await keys.type_into(page, "input[data-path='reports/0/inspected_by']", "Trần Thị Bình")
    await keys.press_on(page, "form[data-command$='/inspection'] button[type=submit]")
    await page.wait_for_url(f"**/shipments/{shipment_id}", timeout=steps.WAIT)
    await expect(page.locator("h1 .status.partially_arrived")).to_be_visible()
    await expect(page.locator("main table").nth(1)).to_contain_text("500")

    await steps.dispatch_notice(store, "01", product, carrier="VNPost")
    selector = f"#notices section.card:has(h2:has-text('{product}'))"
    await steps.reload_until(province, "/provinces/01", f"{selector} form.receipt")
    form = f"{selector} form.receipt"
    inbox = province.page
    lot = f"{form} fieldset.lot >> nth=0"
    counted = await inbox.locator(lot).get_attribute("data-counted")
    await keys.type_into(inbox, f"{lot} >> input.accepted", str(int(counted or 0) - 3))
    await keys.type_into(inbox, f"{lot} >> input.rejected[data-reason=damaged]", "3")
    await keys.press_on(inbox, f"{form} button[type=submit]")
    notice = inbox.locator(selector)
    await expect(notice.locator(".status.received_with_discrepancies")).to_be_visible(
        timeout=steps.WAIT
    )
    await expect(notice).to_contain_text("3")


async def released(stack: Stack, bill: str, product: str) -> dict[str, Any]:
    """A consignment announced, arrived and released by customs the normal way (declaration,
    green lane, release): allocation drafts a round for the ministry to decide."""
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announced(stack, client, bill, product)
        await arrived(stack, client, shipment)
        sid = shipment["shipment_id"]
        await until(lambda: _case_arrived(stack, client, sid))
        for step, body in [
            ("declaration", {"declaration_number": f"104{uuid.uuid4().int % 10**9:09d}",
                             "declaration_type": "simplified"}),
            ("lane", {"lane": "green"}),
            ("release", {"everything": True}),
        ]:  # fmt: skip
            response = await stack.call(
                client, "customs.han", "POST", "customs",
                f"/api/v1/clearances/{sid}/{step}", json=body,
            )  # fmt: skip
            assert response.status_code == 200, response.text
    return shipment


async def _case_arrived(stack: Stack, client: httpx.AsyncClient, sid: str) -> bool:
    return await case_status(stack, client, sid) == "arrived"


async def test_the_allocation_desk_adjusts_a_draft_and_the_approver_approves_it(
    people: People, web_stack: Stack
) -> None:
    product = f"Vaxzevria {uuid.uuid4().hex[:6]}"
    await released(web_stack, airway_bill(), product)
    desk, approver, province = (
        await people.new("allocation"),
        await people.new("allocation"),
        await people.new("allocation"),
    )
    await steps.sign_in(desk, "allocation.moh")
    await steps.sign_in(approver, "approver.moh")
    await steps.sign_in(province, "province-01")

    round_desk = await steps.drafted_round(desk, product)
    await expect(desk.page.locator("form.desk-approve")).to_have_count(0)  # four eyes
    shares = desk.page.locator("table.shares").first
    before = int(
        await shares.locator("tr[data-recipient='01']").get_attribute("data-quantity") or 0
    )
    rows = await shares.locator("tbody tr[data-recipient]").all()
    held = {
        await r.get_attribute("data-recipient"): await r.get_attribute("data-quantity")
        for r in rows
    }
    largest = max(
        (int(q or 0), str(code)) for code, q in held.items() if code not in ("01", "reserve")
    )
    assert largest[0] >= 1_000, held
    await steps.adjust_draft(desk, moved_from=largest[1], moved_to="01", quantity=1_000)
    moved = shares.locator("tr[data-recipient='01']")
    await expect(moved).to_have_attribute("data-quantity", str(before + 1_000))
    await people.shoot(desk, "allocation-desk-draft")

    await steps.approve_round(approver, round_desk, decision_number="3400/QĐ-BYT")
    await expect(approver.page.locator("dl.facts")).to_contain_text("3400/QĐ-BYT")
    await people.shoot(approver, "allocation-desk-approved")
    notice = await steps.notice_in_inbox(province, "01", product)
    await expect(notice).to_contain_text(f"{before + 1_000:,}")
