"""The delivery pages in Vietnamese and English without a database: the receipt form in the
inbox, the national store's dispatch desk, the printable notice, the discrepancies."""

from __future__ import annotations

from typing import Any

from services.allocation.recipients import by_code
from shared.auth import Role
from shared.http.pages import page_row
from tests.unit.test_pages import NOTICE_ROW, NOW, PROVINCE_01, client, render, user

JSON = ("lots", "dispatched_lots", "received_lots")
STORE = user(Role.STORE_OFFICER)
VIEWER = user(Role.NATIONAL_VIEWER)
SENT = [{"lot_number": "ABV5300", "expiry_date": "2027-06-30", "quantity": 53350}]
DISPATCHED = NOTICE_ROW | {
    "status": "dispatched",
    "dispatched_lots": SENT,
    "carrier": "VNPost cold truck",
    "dispatched_at": NOW,
    "decision_number": "",
}
RECEIVED = DISPATCHED | {
    "status": "received_with_discrepancies",
    "received_at": NOW,
    "with_discrepancies": True,
    "rejected_quantity": 20,
    "decision_number": "3400/QĐ-BYT",
    "received_lots": [
        {
            "line_no": 1,
            "lot_number": "ABV5300",
            "counted": 53350,
            "accepted": 53330,
            "rejections": [{"reason": "temperature_excursion", "quantity": 20, "note": ""}],
        }
    ],
}


def row(data: dict[str, Any]) -> dict[str, Any]:
    return page_row({"dispatched_lots": None, "received_lots": None} | data, *JSON)


def test_a_dispatched_notice_offers_the_receipt_form_per_lot() -> None:
    page = render("allocation", "_notices.html", "vi", user=PROVINCE_01, notices=[row(DISPATCHED)])
    assert 'class="receipt"' in page and 'data-lot="ABV5300" data-counted="53350"' in page
    assert "Xác nhận đã nhận hàng" in page and "sai lệch nhiệt độ" in page
    assert '<label>Nhận đạt <input class="accepted"' in page  # every field has its label
    # one quantity per reason: several reasons on one lot need no script to add a row
    for reason in ("short", "damaged", "temperature_excursion"):
        assert f'name="lots/0/rejected/{reason}" data-reason="{reason}"' in page
    english = render(
        "allocation", "_notices.html", "en", user=PROVINCE_01, notices=[row(DISPATCHED)]
    )
    assert "temperature excursion" in english and "Confirm receipt" in english
    received = render(
        "allocation", "_notices.html", "en", user=PROVINCE_01, notices=[row(RECEIVED)]
    )
    assert 'class="receipt"' not in received and "received with discrepancies" in received


def test_the_printable_notice_carries_the_decision_number() -> None:
    page = render(
        "allocation",
        "notice_print.html",
        "vi",
        user=PROVINCE_01,
        recipient=by_code()["01"],
        n=row(RECEIVED),
    )
    assert "3400/QĐ-BYT" in page and "53.330" in page and "sai lệch nhiệt độ" in page
    pending = render(
        "allocation",
        "notice_print.html",
        "en",
        user=PROVINCE_01,
        recipient=by_code()["01"],
        n=row(NOTICE_ROW | {"decision_number": ""}),
    )
    assert "not decided yet" in pending and 'id="print"' in pending


async def test_the_store_officer_lands_on_the_dispatch_desk() -> None:
    browser, _ = client("allocation", [NOTICE_ROW], STORE)
    home = await browser.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/dispatch"
    desk = await browser.get("/dispatch", params={"lang": "en"})
    assert desk.status_code == 200 and 'class="dispatch"' in desk.text
    assert "/api/v1/recipients/01/notices/R-0A1B2C3D-01-1/dispatch" in desk.text
    assert '<label>Carrier <input name="carrier" required' in desk.text
    province = client("allocation", [NOTICE_ROW], PROVINCE_01)[0]
    assert (await province.get("/dispatch")).status_code == 403


async def test_a_printable_notice_of_another_province_is_refused() -> None:
    browser, _ = client("allocation", [NOTICE_ROW], PROVINCE_01)
    number = NOTICE_ROW["notice_number"]
    assert (await browser.get(f"/provinces/01/notices/{number}/print")).status_code == 200
    assert (await browser.get(f"/provinces/79/notices/{number}/print")).status_code == 403
    store = client("allocation", [NOTICE_ROW], STORE)[0]
    assert (await store.get(f"/provinces/79/notices/{number}/print")).status_code == 404
    assert (await store.get(f"/recipients/01/notices/{number}/print")).status_code == 200


async def test_a_national_recipient_has_its_inbox_and_printable_notice() -> None:
    mod = user(Role.PROVINCE_OFFICER, "MOD")
    notice = NOTICE_ROW | {"province_code": "MOD", "notice_number": "R-0A1B2C3D-MOD-1"}
    browser, _ = client("allocation", [notice], mod)
    home = await browser.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/recipients/MOD"
    inbox = await browser.get("/recipients/MOD", params={"lang": "en"})
    assert inbox.status_code == 200 and "Ministry of National Defence" in inbox.text
    assert "/api/v1/recipients/MOD/notices/R-0A1B2C3D-MOD-1/acknowledge" in inbox.text
    assert (await browser.get("/recipients/01")).status_code == 403
    assert (await browser.get("/recipients/XYZ")).status_code == 404
    printed = await browser.get("/recipients/MOD/notices/R-0A1B2C3D-MOD-1/print")
    assert printed.status_code == 200 and "MOD · Ministry of National Defence" in printed.text


async def test_the_discrepancies_are_listed_for_national_readers() -> None:
    listed = dict(RECEIVED) | {"position": 9}
    browser, _ = client("allocation", [listed], VIEWER)
    page = await browser.get("/discrepancies", params={"lang": "vi"})
    assert page.status_code == 200 and "Sai lệch khi nhận hàng" in page.text
    assert "R-0A1B2C3D-01-1" in page.text
    province = client("allocation", [listed], PROVINCE_01)[0]
    assert (await province.get("/discrepancies")).status_code == 403
