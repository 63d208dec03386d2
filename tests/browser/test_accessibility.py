"""axe-core (vendored, see vendor/axe-core/README.md) on every main page, in both languages:
no serious or critical violation. The pages carry data first, so that the forms, tables and
statuses that a real day shows are scanned too."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.browser import steps
from tests.browser.people import AXE, People, Person
from tests.e2e.flows import announce_and_arrive, fast_track
from tests.e2e.stack import Stack

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
    await steps.reload_until(province, "/provinces/01", "#notices section.card")

    pages = [
        (anonymous, "/login"),
        (intake, "/"),
        (intake, "/shipments/new"),
        (intake, f"/shipments/{waiting['shipment_id']}"),
        (intake, f"/shipments/{cleared['shipment_id']}"),
        (customs, "/"),
        (customs, "/?status=cleared"),
        (desk, "/"),
        (province, "/provinces/01"),
    ]
    found = []
    for person, path in pages:
        for lang in ("en", "vi"):
            found += await scan(person, path, lang)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert blocking == [], "\n".join(
        f"{v['page']}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}" for v in blocking
    )


async def test_the_scan_finds_a_violation_when_there_is_one(people: People) -> None:
    """The check can fail: a page whose field lost its label is reported."""
    person = await people.new("intake", axe=True)
    page = await person.open("/login", "en")
    unlabel = "() => { const i = document.querySelector('input[name=username]');"
    await page.evaluate(unlabel + " i.closest('label').replaceWith(i); }")
    violations: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
    assert "label" in {v["id"] for v in violations if v["impact"] in BLOCKING}
