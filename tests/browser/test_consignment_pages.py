"""The consignment's path through the pages, in Chromium: sign in, announce (with a field
error first), arrival, the customs queue's fast-track release, the province's acknowledgement,
the language switch, and the whole path again with the keyboard alone."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.async_api import expect

from shared.auth import DEMO_PASSWORD
from tests.browser import keyboard as keys
from tests.browser import steps
from tests.browser.people import People

pytestmark = pytest.mark.e2e


def airway_bill() -> str:
    return f"738-{uuid.uuid4().int % 10**8:08d}"


async def test_sign_in_refuses_a_wrong_password_then_lets_the_officer_in(people: People) -> None:
    officer = await people.new("intake")
    page = await officer.open("/login", "en")
    await people.shoot(officer, "login")
    await page.fill("input[name=username]", "intake.han")
    await page.fill("input[name=password]", "not the password")
    await page.click("form[action='/login'] button[type=submit]")
    await expect(page.locator("p.error[role=alert]")).to_contain_text("wrong password")
    await expect(page.locator("form.who")).to_have_count(0)

    await steps.sign_in(officer, "intake.han")
    await expect(page.locator("form.who")).to_contain_text("Intake officer, Noi Bai")
    await expect(page.locator("h1")).to_be_visible()


async def test_a_consignment_from_the_announce_form_to_the_province_inbox(people: People) -> None:
    bill, product = airway_bill(), f"Vaxzevria {uuid.uuid4().hex[:6]}"
    intake, customs = await people.new("intake"), await people.new("customs")
    province, desk = await people.new("allocation"), await people.new("allocation")
    await steps.sign_in(intake, "intake.han")
    await steps.sign_in(customs, "customs.han")
    await steps.sign_in(province, "province-01")
    await steps.sign_in(desk, "allocation.moh")

    # An expired lot: the API's message shows next to the expiry date, nothing is announced.
    values = steps.consignment(bill, product)
    page = await intake.open("/shipments/new")
    await steps.fill_announcement(page, values | {"expiry_date": "2020-01-31"})
    await page.click("form#announce button[type=submit]")
    expiry = page.locator(".lot input[name=expiry_date]")
    await expect(expiry).to_have_attribute("aria-invalid", "true")
    note = page.locator(".lot input[name=expiry_date] + small.field-error")
    await expect(note).to_contain_text("expired")
    await expect(page).to_have_url(intake.url("/shipments/new"))
    await people.shoot(intake, "announce-field-error")

    # Corrected and sent again: the consignment's page, then its arrival.
    await expiry.fill(values["expiry_date"])
    await page.click("form#announce button[type=submit]")
    shipment_id = await steps.landed_on_shipment(page)
    await expect(page.locator("h1")).to_contain_text(bill)
    await expect(page.locator("input[name=expiry_date] + small.field-error")).to_have_count(0)
    await steps.record_arrival(intake, shipment_id)
    await people.shoot(intake, "shipment-arrived")
    await intake.open("/")
    await expect(page.locator(f"text={bill}")).to_be_visible()
    await people.shoot(intake, "shipments")

    await steps.customs_case(customs, bill)
    await people.shoot(customs, "customs-queue")
    await steps.fast_track_release(customs, bill, declaration=bill[-8:])

    await steps.notice_in_inbox(province, "01", product)
    await people.shoot(province, "province-inbox")
    await steps.acknowledge_notice(province, "01", product)

    await desk.open("/")
    await expect(desk.page.locator("main")).to_contain_text(product)
    await people.shoot(desk, "allocation-rounds")


async def test_the_language_switch_keeps_the_page_and_the_choice(people: People) -> None:
    officer = await people.new("customs", locale="en-GB")
    page = await steps.sign_in(officer, "customs.han")
    await officer.open("/?status=cleared")
    await expect(page.locator("h1")).to_have_text("Clearance queue")

    await steps.switch_language(officer, "vi")
    await expect(page.locator("h1")).to_have_text("Hàng chờ thông quan")
    assert "status=cleared" in page.url  # the query is kept
    await people.shoot(officer, "customs-queue-vi")
    await officer.open("/")  # the choice is remembered without ?lang
    await expect(page.locator("html")).to_have_attribute("lang", "vi")

    await steps.switch_language(officer, "en")
    await expect(page.locator("h1")).to_have_text("Clearance queue")


async def test_the_whole_path_with_the_keyboard_alone(people: People) -> None:
    bill, product = airway_bill(), f"Comirnaty {uuid.uuid4().hex[:6]}"
    intake, customs, province = (
        await people.new("intake"),
        await people.new("customs"),
        await people.new("allocation"),
    )
    for person, user in [
        (intake, "intake.han"),
        (customs, "customs.han"),
        (province, "province-01"),
    ]:
        page = await person.open("/login", "en")
        await keys.type_into(page, "input[name=username]", user)
        await keys.type_into(page, "input[name=password]", DEMO_PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.locator("form.who")).to_be_visible()

    page = await intake.open("/shipments/new")
    arrival = datetime.now(UTC) + timedelta(hours=3)
    await keys.type_into(page, "input[name=donor]", "Government of Japan")
    await keys.type_into(page, "input[name=flight]", "JL0751")
    await keys.type_into(page, "input[name=airway_bill]", bill)
    await keys.type_datetime(page, "input[name=expected_arrival]", arrival)
    await keys.type_into(page, "input[name=consignee]", "NIHE")
    # Category, unit and storage keep their first options: vaccine, doses, 2-8 °C.
    await keys.type_into(page, ".fields input[name=product]", product)
    await keys.type_into(page, ".fields input[name=pack_size]", "10")
    await keys.type_into(page, ".fields input[name=quantity]", "600000")
    await keys.type_into(page, ".lot input[name=lot_number]", "JPN0001")
    await keys.type_date(page, ".lot input[name=expiry_date]", date.today() + timedelta(days=300))
    await keys.type_into(page, ".lot input[name=quantity]", "600000")
    await keys.press_on(page, "form#announce button[type=submit]")
    shipment_id = await steps.landed_on_shipment(page)
    shown = page.locator("main")
    await expect(shown).to_contain_text("Government of Japan")
    await expect(shown).to_contain_text("600,000")

    await keys.press_on(page, "form#arrival button[type=submit]")
    await expect(page.locator("h1 .status.arrived")).to_be_visible(timeout=steps.WAIT)
    assert page.url.endswith(shipment_id)

    case = await steps.customs_case(customs, bill)
    form_id = await case.locator("form.fast-track").get_attribute("data-case")
    form = f"form.fast-track[data-case='{form_id}']"
    await keys.type_into(customs.page, f"{form} input[name=declaration_number]", bill[-8:])
    await keys.press_on(customs.page, f"{form} button[type=submit]")
    await steps.left_the_queue(customs, bill)

    notice = await steps.notice_in_inbox(province, "01", product)
    await keys.press_on(
        province.page, f"#notices section.card:has(h2:has-text('{product}')) button"
    )
    await expect(notice.locator(".status.acknowledged")).to_be_visible(timeout=steps.WAIT)
