"""axe-core (vendored, see vendor/axe-core/README.md) on every main page, in both languages:
no serious or critical violation. The pages carry data first, so that the forms, tables and
statuses that a real day shows are scanned too."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.browser import steps
from tests.browser.people import AXE, People, Person
from tests.e2e.flows import announce_and_arrive, fast_track, inbox, vaccine_consignment
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e

AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # axe-core 4.14.1
BLOCKING = {"serious", "critical"}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


def test_the_vendored_axe_core_is_the_recorded_release() -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256
    assert AXE.read_text()[:40].startswith("/*! axe v4.14.1")
    assert "Mozilla Public License" in (AXE.parent / "LICENSE").read_text()


async def scan(person: Person, path: str, lang: str) -> list[dict[str, Any]]:
    page = await person.open(path, lang)
    violations: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
    return [{"page": f"{person.service}{path} ({lang})", **v} for v in violations]


async def test_no_serious_accessibility_violation_on_the_main_pages(
    people: People, web_stack: Stack
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        waiting = await announce_and_arrive(web_stack, client, "738-55500001")
        cleared = await announce_and_arrive(web_stack, client, "738-55500002")
        assert (await fast_track(web_stack, client, cleared["shipment_id"])).status_code == 200

    anonymous = await people.new("intake", axe=True)
    intake, customs = await people.new("intake", axe=True), await people.new("customs", axe=True)
    desk, province = (
        await people.new("allocation", axe=True),
        await people.new("allocation", axe=True),
    )
    await steps.sign_in(intake, "intake.han")
    await steps.sign_in(customs, "customs.han")
    await steps.sign_in(desk, "allocation.moh")
    await steps.sign_in(province, "province-01")
    await steps.customs_case(customs, "738-55500001")  # the arrival has reached customs
    await steps.reload_until(province, "/recipients/01", "#notices section.card")

    pages = [
        (anonymous, "/login"),
        (intake, "/"),
        (intake, "/shipments/new"),
        (intake, f"/shipments/{waiting['shipment_id']}"),
        (intake, f"/shipments/{cleared['shipment_id']}"),
        (customs, "/"),
        (customs, "/?status=cleared"),
        (desk, "/"),
        (province, "/recipients/01"),
    ]
    await assert_no_blocking_violation(pages)


async def assert_no_blocking_violation(pages: list[tuple[Person, str]]) -> None:
    found = []
    for person, path in pages:
        for lang in ("en", "vi"):
            found += await scan(person, path, lang)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert blocking == [], "\n".join(
        f"{v['page']}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}" for v in blocking
    )


async def inspected(stack: Stack, client: httpx.AsyncClient, bill: str) -> str:
    """A consignment with one arrival part inspected (a rejection) and its VAR filed."""
    created = await stack.call(
        client, "intake.han", "POST", "intake", "/api/v1/shipments",
        json=vaccine_consignment(bill, doses=8_000),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    shipment = created.json()
    first, second = shipment["lines"][0]["lots"]
    part = {
        "flight": "VN0317",
        "arrived_at": datetime.now(UTC).isoformat(),
        "lots": [
            {"line_no": 1, "lot_number": first["lot_number"], "counted": first["quantity"],
             "rejections": [{"reason": "damaged", "quantity": 100}]},
            {"line_no": 1, "lot_number": second["lot_number"], "counted": second["quantity"]},
        ],
        "reports": [{"line_no": 1, "inspected_by": "Nguyễn Văn An"}],
    }  # fmt: skip
    path = f"/api/v1/shipments/{shipment['shipment_id']}/inspection"
    response = await stack.call(client, "intake.han", "POST", "intake", path, json=part)
    assert response.status_code == 200, response.text
    return str(shipment["shipment_id"])


async def dispatched_to(stack: Stack, client: httpx.AsyncClient, code: str, sid: str) -> None:
    """The notice of ``sid`` for province ``code`` sent by the national store."""

    async def notice() -> dict[str, Any] | None:
        items = (await inbox(stack, client, code)).json()["items"]
        return next((n for n in items if n["shipment_id"] == sid), None)

    found = await until(notice)
    path = f"/api/v1/provinces/{code}/notices/{found['notice_number']}/dispatch"
    sent = await stack.call(
        client, "store.nepi", "POST", "allocation", path, json={"carrier": "VNPost"}
    )
    assert sent.status_code == 200, sent.text


async def test_no_serious_accessibility_violation_on_the_operations_pages(
    people: People, web_stack: Stack
) -> None:
    """The pages of arrival, customs, delivery and reporting, with data on them."""
    async with httpx.AsyncClient(timeout=30) as client:
        var_shipment = await inspected(web_stack, client, "738-55500011")
        fresh = await web_stack.call(
            client, "intake.han", "POST", "intake", "/api/v1/shipments",
            json=vaccine_consignment("738-55500012"),
        )  # fmt: skip
        assert fresh.status_code == 201, fresh.text
        arrived = await announce_and_arrive(web_stack, client, "738-55500013")
        cleared = await announce_and_arrive(web_stack, client, "738-55500014")
        assert (await fast_track(web_stack, client, cleared["shipment_id"])).status_code == 200
        await dispatched_to(web_stack, client, "01", cleared["shipment_id"])

    intake, customs = await people.new("intake", axe=True), await people.new("customs", axe=True)
    store, province = (
        await people.new("allocation", axe=True),
        await people.new("allocation", axe=True),
    )
    viewer = await people.new("reporting", axe=True)
    await steps.sign_in(intake, "intake.han")
    await steps.sign_in(customs, "customs.han")
    await steps.sign_in(store, "store.nepi")
    await steps.sign_in(province, "province-01")
    await steps.sign_in(viewer, "viewer")
    await steps.open_case(customs, arrived["shipment_id"])  # the arrival has reached customs
    await steps.reload_until(province, "/recipients/01", "#notices form.receipt")
    await steps.reload_until(viewer, "/donors", "main a[href^='/donors/']")

    pages = [
        (intake, f"/shipments/{fresh.json()['shipment_id']}/inspection"),
        (intake, f"/shipments/{var_shipment}"),
        (intake, f"/shipments/{var_shipment}/var"),
        (customs, f"/cases/{arrived['shipment_id']}"),
        (customs, f"/cases/{cleared['shipment_id']}"),
        (store, "/dispatch"),
        (province, "/recipients/01"),
        (viewer, "/"),
        (viewer, "/donors"),
        (viewer, "/donors/COVAX"),
    ]
    await assert_no_blocking_violation(pages)


async def test_the_scan_finds_a_violation_when_there_is_one(people: People) -> None:
    """The check can fail: a page whose field lost its label is reported."""
    person = await people.new("intake", axe=True)
    page = await person.open("/login", "en")
    unlabel = "() => { const i = document.querySelector('input[name=username]');"
    await page.evaluate(unlabel + " i.closest('label').replaceWith(i); }")
    violations: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
    assert "label" in {v["id"] for v in violations if v["impact"] in BLOCKING}
