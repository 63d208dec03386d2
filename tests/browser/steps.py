"""The consignment flow as people do it in the browser: one function per step.

Each step drives the pages only (forms, buttons, links), as its person would, and returns when
the page shows the outcome. Selectors use the forms' field names and the pages' structure, not
their wording, so the steps work in both languages.

"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

from playwright.async_api import Locator, Page, expect

from shared.auth import DEMO_PASSWORD
from tests.browser.people import Person

WAIT = 60_000  # ms: events cross Kafka between services on a loaded machine


async def sign_in(person: Person, user: str, lang: str = "en") -> Page:
    """The login form, filled and sent; lands on the service's home page."""
    page = await person.open("/login", lang)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await expect(page.locator("form.who")).to_be_visible()
    return page


def vaccine_line(product: str, doses: int, lot: str, expiry: date) -> dict[str, str]:
    return {
        "product": product,
        "category": "vaccine",
        "unit": "doses",
        "pack_size": "10",
        "quantity": str(doses),
        "storage": "2-8C",
        "lot_number": lot,
        "expiry_date": expiry.isoformat(),
        "lot_quantity": str(doses),
    }


def consignment(airway_bill: str, product: str, doses: int = 811_200) -> dict[str, str]:
    arrival = datetime.now(UTC) + timedelta(hours=2)
    expiry = date.today() + timedelta(days=200)
    return {
        "donor": "COVAX",
        "channel": "covax",
        "airport": "HAN",
        "flight": "VN0317",
        "airway_bill": airway_bill,
        # datetime-local holds the browser's wall clock; the browser runs in UTC here.
        "expected_arrival": arrival.strftime("%Y-%m-%dT%H:%M"),
        "consignee": "National Expanded Programme on Immunization",
        **vaccine_line(product, doses, f"L{airway_bill[-6:]}", expiry),
    }


async def fill_announcement(page: Page, values: dict[str, str]) -> None:
    """The announce form with one line and one lot, as typed by the officer."""
    form = page.locator("form#announce")
    for name in ("donor", "flight", "airway_bill", "expected_arrival", "consignee"):
        await form.locator(f"input[name={name}]").fill(values[name])
    for name in ("channel", "airport"):
        await form.locator(f"select[name={name}]").select_option(values[name])
    line = form.locator(".line").first
    for name in ("product", "pack_size", "quantity"):
        await line.locator(f".fields input[name={name}]").fill(values[name])
    for name in ("category", "unit", "storage"):
        await line.locator(f"select[name={name}]").select_option(values[name])
    lot = line.locator(".lot").first
    await lot.locator("input[name=lot_number]").fill(values["lot_number"])
    await lot.locator("input[name=expiry_date]").fill(values["expiry_date"])
    await lot.locator("input[name=quantity]").fill(values["lot_quantity"])


async def announce(person: Person, values: dict[str, str]) -> str:
    """Announces a consignment from the form; returns its id (from the page it lands on)."""
    page = await person.open("/shipments/new")
    await fill_announcement(page, values)
    await page.click("form#announce button[type=submit]")
    return await landed_on_shipment(page)


async def landed_on_shipment(page: Page) -> str:
    await page.wait_for_url("**/shipments/*-*", timeout=WAIT)
    await expect(page.locator("h1 .status.announced")).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


async def record_arrival(person: Person, shipment_id: str) -> None:
    """The arrival form of the consignment's page, sent with the quantities as announced."""
    page = await person.open(f"/shipments/{shipment_id}")
    await page.click("form#arrival button[type=submit]")
    await expect(page.locator("h1 .status.arrived")).to_be_visible(timeout=WAIT)


async def customs_case(person: Person, airway_bill: str) -> Locator:
    """The case of ``airway_bill`` in the customs queue, once the arrival has reached customs
    (the queue is reloaded until it shows up)."""
    return await reload_until(person, "/", f"section.card:has(h2:has-text('{airway_bill}'))")


async def fast_track_release(person: Person, airway_bill: str, declaration: str) -> None:
    """The customs officer clears an arrived consignment on the fast track from the queue."""
    case = await customs_case(person, airway_bill)
    form = case.locator("form.fast-track")
    await form.locator("input[name=declaration_number]").fill(declaration)
    await form.locator("select[name=lane]").select_option("green")
    await form.locator("input[name=remarks]").fill("relief consignment")
    await form.locator("button[type=submit]").click()
    await left_the_queue(person, airway_bill)


async def left_the_queue(person: Person, airway_bill: str) -> None:
    """After a release the page reloads itself without the case; the case is then among the
    closed ones (a consignment that arrived in one part is completed by its release)."""
    case = person.page.locator(f"section.card:has(h2:has-text('{airway_bill}'))")
    await expect(case).to_have_count(0, timeout=WAIT)
    await reload_until(person, "/?status=closed", f"section.card:has(h2:has-text('{airway_bill}'))")


async def notice_in_inbox(person: Person, code: str, product: str) -> Locator:
    """The notice of ``product`` in province ``code``'s inbox, once allocated."""
    return await reload_until(
        person, f"/recipients/{code}", f"#notices section.card:has(h2:has-text('{product}'))"
    )


async def acknowledge_notice(person: Person, code: str, product: str) -> None:
    """The province officer acknowledges the notice; the list refreshes in place."""
    notice = await notice_in_inbox(person, code, product)
    await notice.locator("form.acknowledge button[type=submit]").click()
    await expect(notice.locator(".status.acknowledged")).to_be_visible(timeout=WAIT)


async def switch_language(person: Person, code: str) -> None:
    """The header's language link; the page comes back in that language, same path."""
    page = person.page
    path = page.url.split("?")[0]
    await page.click(f"nav.lang a[hreflang={code}]")
    await expect(page.locator("html")).to_have_attribute("lang", code)
    assert page.url.split("?")[0] == path


async def reload_until(person: Person, path: str, selector: str, timeout: float = 60) -> Locator:
    """Opens ``path`` again until ``selector`` is on it: what another service does reaches
    this page through Kafka, a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        page = await person.open(path)
        found = page.locator(selector)
        if await found.count():
            return found.first
        if time.monotonic() > deadline:
            raise TimeoutError(f"{selector} not on {path} within {timeout}s")
        await asyncio.sleep(0.5)


async def inspect_with_rejection(
    person: Person, shipment_id: str, reason: str, rejected: int, inspected_by: str
) -> None:
    """The inspection page: every lot counted as announced, ``rejected`` units of the first
    lot refused for ``reason``, and the Vaccine Arrival Report filed (its "Inspected by" set).
    Lands on the consignment's page with the part recorded."""
    page = await person.open(f"/shipments/{shipment_id}/inspection")
    first_lot = page.locator("fieldset[data-field='lots/0']")
    reasons = first_lot.locator("input[type=hidden][data-path$='/reason']")
    index = [await r.get_attribute("value") for r in await reasons.all()].index(reason)
    await first_lot.locator(f"input[data-path='lots/0/rejections/{index}/quantity']").fill(
        str(rejected)
    )
    await page.locator("input[data-path='reports/0/inspected_by']").fill(inspected_by)
    await page.locator("input[data-path='reports/0/shipping_indicators/boxes_inspected']").fill(
        "12"
    )
    await page.click("form[data-command$='/inspection'] button[type=submit]")
    await page.wait_for_url(f"**/shipments/{shipment_id}", timeout=WAIT)
    await expect(page.locator("h1 .status.partially_arrived")).to_be_visible()


async def open_case(person: Person, shipment_id: str) -> Page:
    """The customs case page, once the arrival has reached customs (its release form shows)."""
    await reload_until(person, f"/cases/{shipment_id}", "form.step[data-step=release]")
    return person.page


async def case_step(person: Person, step: str, fields: dict[str, str]) -> None:
    """Fills one step form of the open case page by its fields' names (inputs and selects)
    and sends it; the page reloads itself once the API has accepted it."""
    page = person.page
    form = page.locator(f"form.step[data-step='{step}']")
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if await field.evaluate("(element) => element.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    async with page.expect_navigation(timeout=WAIT):
        await form.locator("button[type=submit]").click()
    await expect(page.locator("form.step pre.errors:not(:empty)")).to_have_count(0)


async def release_goods(person: Person, quantities: dict[str, int] | None = None) -> None:
    """The case page's release form: ``quantities`` per lot number, or (None) everything
    releasable now."""
    page = person.page
    form = page.locator("form.step[data-step=release]")
    for lot, quantity in (quantities or {}).items():
        await form.locator(f"input.qty[data-lot='{lot}']").fill(str(quantity))
    async with page.expect_navigation(timeout=WAIT):
        await form.locator("button[type=submit]").click()


async def dispatch_notice(person: Person, code: str, product: str, carrier: str) -> None:
    """The national store's dispatch desk: the notice of ``product`` for province ``code``
    sent with ``carrier``; the desk reloads without it."""
    selector = f"section.card:has(h2:has-text('{code} · {product}'))"
    page = await person.open("/dispatch")  # the desk of every province: narrowed to one
    await page.locator("form.filter select[name=province]").select_option(code)
    await page.click("form.filter button[type=submit]")
    await page.wait_for_url(f"**/dispatch?province={code}")
    notice = await reload_until(person, f"/dispatch?province={code}", selector)
    await notice.locator("input[name=carrier]").fill(carrier)
    await notice.locator("form.dispatch button[type=submit]").click()
    await expect(person.page.locator(selector)).to_have_count(0, timeout=WAIT)


async def confirm_receipt(
    person: Person, code: str, product: str, rejected: dict[str, int] | None = None
) -> Locator:
    """The recipient's receipt form, once the notice shows as dispatched: the first lot with
    units not accepted, per reason (e.g. {"short": 10, "damaged": 5}); returns the notice,
    shown as received."""
    selector = f"#notices section.card:has(h2:has-text('{product}')):has(form.receipt)"
    notice = await reload_until(person, f"/recipients/{code}", selector)
    form = notice.locator("form.receipt")
    if rejected:
        lot = form.locator("fieldset.lot").first
        counted = int(await lot.get_attribute("data-counted") or 0)
        await lot.locator("input.accepted").fill(str(counted - sum(rejected.values())))
        for reason, quantity in rejected.items():
            await lot.locator(f"input.rejected[data-reason={reason}]").fill(str(quantity))
    await form.locator("button[type=submit]").click()
    shown = person.page.locator(f"#notices section.card:has(h2:has-text('{product}'))")
    status = "received_with_discrepancies" if rejected else "received"
    await expect(shown.locator(f".status.{status}")).to_be_visible(timeout=WAIT)
    return shown


async def dashboard_charts(person: Person) -> Locator:
    """The national dashboard's charts: each chart is an SVG with a table beside it."""
    page = await person.open("/")
    charts = page.locator("#dashboard .chart-table:has(svg.chart)")
    await expect(charts.first).to_be_visible()
    for chart in await charts.all():
        if await chart.is_visible():
            await expect(chart.locator(":scope > table")).to_be_visible()
    return charts


async def drafted_round(person: Person, product: str) -> str:
    """The allocation desk's draft of ``product`` (a normal release is drafted, never issued
    at once), opened from the drafted rounds; returns the desk's path."""
    card = await reload_until(
        person, "/?status=drafted", f"section.card:has(li:has-text('{product}'))"
    )
    await card.locator("h2 a").click()
    await person.page.wait_for_url("**/rounds/*")
    await expect(person.page.locator("h1 .status.drafted")).to_be_visible()
    return "/" + person.page.url.split("/", 3)[3]


async def adjust_draft(person: Person, moved_from: str, moved_to: str, quantity: int) -> None:
    """Moves ``quantity`` units of the first line between two recipients (codes, or
    "reserve"); the desk reloads with the new shares."""
    page = person.page
    form = page.locator("form.desk-adjust")
    await form.locator("select[name=from]").select_option(moved_from)
    await form.locator("select[name=to]").select_option(moved_to)
    await form.locator("input[name=quantity]").fill(str(quantity))
    await form.locator("input[name=reason]").fill("outbreak in the province")
    await submit_then_reload(page, "form.desk-adjust")


async def submit_then_reload(page: Page, form: str) -> None:
    """Sends ``form`` and waits for the page to reload itself (accepted) or for the form to
    show the API's problem, which fails the step with its text."""
    await page.evaluate("() => { window.aidportBeforeSubmit = true; }")
    await page.click(f"{form} button[type=submit]")
    shown = f"document.querySelector('{form} pre.errors')?.textContent.trim()"
    await page.wait_for_function(f"() => !window.aidportBeforeSubmit || {shown}", timeout=WAIT)
    await expect(page.locator(f"{form} pre.errors")).to_be_empty()


async def approve_round(person: Person, desk: str, decision_number: str) -> None:
    """The approver's decision on the draft: number and today's date; the round is approved."""
    page = await person.open(desk)
    form = page.locator("form.desk-approve")
    await form.locator("input[name=decision_number]").fill(decision_number)
    await form.locator("input[name=decision_date]").fill(date.today().isoformat())
    await form.locator("button[type=submit]").click()
    await expect(page.locator("h1 .status.approved")).to_be_visible(timeout=WAIT)
