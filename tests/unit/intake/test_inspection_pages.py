"""The inspection, VAR, amend, cancel, close and history pages render in vi and en, with a
label on every field, and every value they show from the data is translated."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from babel.messages.pofile import read_po

from services.intake import pages as intake_pages
from services.intake.domain import ShipmentStatus
from services.intake.queries import HistoryEntry, ShipmentDetail
from shared.auth import Role
from shared.contracts.intake import Coolant, LoggerAlarm, VarDocument
from shared.contracts.values import DiscrepancyKind, RejectionReason
from shared.http.pages import page_row
from tests.unit.test_pages import INTAKE_HAN, NOW, ROOT, SHIPMENT_ROW, render, user

SUPERVISOR = user(Role.INTAKE_SUPERVISOR, "HAN")
PART = {
    "part_no": 1,
    "flight": "VN0317",
    "arrived_at": NOW,
    "entered_cold_store_at": NOW + timedelta(hours=1),
    "lots": [
        {
            "line_no": 1,
            "lot_number": "ABV5300",
            "expiry_date": "2027-06-30",
            "counted": 811200,
            "accepted": 811100,
            "rejections": [{"reason": "vvm_discard_point", "quantity": 100, "note": ""}],
            "short_shelf_life": False,
            "acceptance_reason": "",
        }
    ],
    "discrepancies": [
        {
            "kind": "not_on_manifest",
            "line_no": 1,
            "lot_number": "X9",
            "quantity": 5,
            "reason": "box 12",
        }
    ],
    "recorded_by": "intake.han",
    "remarks": "",
}
REPORT = {
    "shipment_id": SHIPMENT_ROW["shipment_id"],
    "part_no": 1,
    "line_no": 1,
    "airport": "HAN",
    "airway_bill": "738-12345675",
    "product": "Vaxzevria (AstraZeneca)",
    "arrived_at": NOW,
    "due_at": NOW + timedelta(days=3),
    "filed_at": NOW,
    "report": {
        "inspected_by": "Nguyễn Văn A",
        "ratified_by": "Trần Thị B",
        "shipping_indicators": {
            "boxes_inspected": 40,
            "coolant": "ice_packs",
            "problem_boxes": [
                {
                    "box_number": "7",
                    "alarm": "alarm",
                    "vvm": [{"lot_number": "ABV5300", "stage": 3}],
                    "note": "",
                }
            ],
        },
    },
}


def detail(**changes: Any) -> ShipmentDetail:
    row = SHIPMENT_ROW | {"status": "partially_arrived", "arrived_at": NOW, "parts_count": 1}
    return ShipmentDetail.model_validate(
        row | {"parts": [PART], "arrival_reports": [REPORT]} | changes
    )


def labelled(html: str) -> None:
    """Every visible field sits inside a label (keyboard and screen-reader users)."""
    for field in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in field:
            continue
        before = html[: html.index(field)]
        assert before.rfind("<label") > before.rfind("</label>"), field


def inspection_context(reader: Any) -> dict[str, Any]:
    found = detail()
    row = page_row(found.model_dump())
    return {
        "user": reader,
        "shipment": row,
        "rows": intake_pages.lot_rows(found),
        "extra_rows": 2,
        "reasons": [r for r in RejectionReason if r is not RejectionReason.SHORT],
        "supervisor": reader.role is Role.INTAKE_SUPERVISOR,
        "vaccine_lines": row["lines"],
        "choices": intake_pages.var_choices(),
    }


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_inspection_form_has_a_labelled_field_for_every_count(lang: str) -> None:
    html = render("intake", "inspection.html", lang, **inspection_context(INTAKE_HAN))
    labelled(html)
    assert 'data-path="lots/0/counted" data-type="int" value="0"' in html  # all counted before
    assert 'data-path="lots/0/rejections/2/quantity"' in html
    assert 'data-path="reports/0/shipping_indicators/problem_boxes/0/box_number"' in html
    assert "accept_short_shelf_life" not in html  # an officer cannot accept
    assert "<script>" not in html and "style=" not in html
    title = "Kiểm tra một đợt hàng đến" if lang == "vi" else "Inspect an arrival part"
    assert title in html


def test_a_supervisor_sees_the_acceptance_field() -> None:
    html = render("intake", "inspection.html", "en", **inspection_context(SUPERVISOR))
    assert 'data-path="lots/0/accept_short_shelf_life"' in html


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_consignment_shows_its_parts_and_reports(lang: str) -> None:
    shipment = page_row(detail().model_dump())
    html = render("intake", "shipment.html", lang, user=INTAKE_HAN, shipment=shipment)
    assert (
        "811" in html and ("VVM quá điểm loại bỏ" if lang == "vi" else "vvm discard point") in html
    )
    assert "/shipments/6f1c3a52-8d0e-4b7a-9f3e-2a1b0c9d8e7f/close" in html
    assert "/shipments/6f1c3a52-8d0e-4b7a-9f3e-2a1b0c9d8e7f/var" in html
    assert 'id="arrival"' not in html  # the one-shot arrival is for an announced one only


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_printable_var_has_signature_lines(lang: str) -> None:
    found = detail()
    html = render(
        "intake",
        "var.html",
        lang,
        user=INTAKE_HAN,
        shipment=page_row(found.model_dump()),
        reports=intake_pages.report_sheets(found),
    )
    assert html.count('class="sign-line"') == 2 and "Nguyễn Văn A" in html
    assert "/static/intake-print.css" in html and "style=" not in html
    assert ("Chữ ký và ngày" if lang == "vi" else "Signature and date") in html


@pytest.mark.parametrize("action", ["cancel", "close"])
def test_the_cancel_and_close_forms(action: str) -> None:
    row = page_row(detail().model_dump())
    for lang in ("vi", "en"):
        html = render(
            "intake", "reason_form.html", lang, user=INTAKE_HAN, shipment=row, action=action
        )
        labelled(html)
        assert f'data-command="/api/v1/shipments/{row["shipment_id"]}/{action}"' in html


def test_the_amend_form_and_the_history() -> None:
    row = page_row(detail(status="announced").model_dump())
    html = render(
        "intake",
        "amend.html",
        "vi",
        user=INTAKE_HAN,
        shipment=row,
        channels=intake_pages.announce_choices(INTAKE_HAN)["channels"],
        lines_json="[]",
    )
    labelled(html)
    assert "Lý do thay đổi" in html
    entry = HistoryEntry(
        version=2,
        event_type="aidport.intake.ShipmentCancelled.v1",
        recorded_at=NOW,
        actor="intake.han",
        actor_role="intake_officer",
        data={"reason": "withdrawn"},
    )
    history = [page_row(entry.model_dump()) | intake_pages.history_text(entry)]
    html = render("intake", "history.html", "vi", user=INTAKE_HAN, shipment=row, history=history)
    assert "Hủy lô hàng" in html and "withdrawn" in html and "intake.han" in html


def test_values_shown_from_the_data_are_translated() -> None:
    catalogs = [
        ROOT / "shared/http/web/locale/vi/LC_MESSAGES/messages.po",
        ROOT / "services/intake/web/locale/vi/LC_MESSAGES/messages.po",
    ]
    known = set()
    for path in catalogs:
        with path.open("rb") as handle:
            known |= {str(m.id) for m in read_po(handle) if m.id and m.string}
    shown = {"short_shelf_life"}
    for values in (
        ShipmentStatus,
        RejectionReason,
        DiscrepancyKind,
        Coolant,
        LoggerAlarm,
        VarDocument,
        Role,
    ):
        shown |= {v.value for v in values}
    shown |= {
        "ShipmentAnnounced",
        "ShipmentAmended",
        "ShipmentCancelled",
        "ShipmentArrived",
        "ArrivalReportFiled",
        "ShipmentClosed",
    }
    assert shown - known == set()
