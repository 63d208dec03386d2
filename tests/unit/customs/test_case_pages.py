"""The customs case page and queue, without a database: both languages, a form per step,
overdue cases highlighted, every value shown from the customs contracts translated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.customs import pages as customs_pages
from services.customs.domain import CaseStatus
from services.customs.queries import CaseView
from shared.contracts.customs import (
    CaseClosure,
    DeclarationType,
    Document,
    DocumentStatus,
    Examination,
    ExaminationPlace,
    HoldReason,
    Lane,
    PermitStatus,
    RefusalOutcome,
)
from shared.contracts.values import Priority
from tests.unit.test_pages import CASE_ROW, CATALOGS, CUSTOMS_HAN, NOW, ROOT, _translated, render

DETAIL = {
    "declaration": {"declaration_number": "104123456789", "declaration_type": "provisional",
                    "completion_deadline": "2021-09-30", "exemption_basis": "Resolution 106/NQ-CP"},
    "documents": [{"document": "packing_list", "required": True, "status": "waived",
                   "reason": "sent by e-mail"}],
    "missing_documents": ["airway_bill"],
    "lane": {"lane": "red", "out_of_hours": True},
    "examination": {"place": "cold_store", "partial": True, "findings": "seals intact"},
    "holds": [{"hold_id": "H1", "reason": "quarantine", "note": "", "placed_by": "customs.han",
               "placed_at": NOW, "open": True, "released_by": None, "released_at": None,
               "lots": [{"line_no": 1, "lot_number": "ABV5300", "quantity": 100}]}],
    "lots": [{"line_no": 1, "lot_number": "ABV5300", "product": "Vaxzevria", "presented": 811200,
              "released": 0, "refused": 0, "held": 100, "free": 811100}],
}  # fmt: skip
HELD_ROW = CASE_ROW | {"detail": DETAIL, "open_holds": 1, "clock_stopped_at": NOW}


def _case(row: dict[str, Any], hours_later: int = 1) -> dict[str, Any]:
    return customs_pages.case_row(CaseView.model_validate(row), NOW + timedelta(hours=hours_later))


def test_the_case_page_has_a_form_per_step_in_both_languages() -> None:
    context = {"user": CUSTOMS_HAN, "case": _case(HELD_ROW), "history": []}
    context |= customs_pages.step_choices()
    english = render("customs", "case.html", "en", **context)
    vietnamese = render("customs", "case.html", "vi", **context)
    for step in ("declaration", "documents", "permits", "lane", "examination", "holds",
                 "holds/H1/release", "release", "refusal"):  # fmt: skip
        assert f'data-step="{step}"' in english
    assert "Release the hold" in english and "Gỡ tạm giữ" in vietnamese
    assert "clock stopped by a hold" in english and "kiểm dịch" in vietnamese
    assert "<script>" not in english and "style=" not in english
    assert english.count("<label") >= 20


def test_a_case_past_its_target_is_highlighted_in_the_queue() -> None:
    def queue(hours_later: int) -> str:
        return render(
            "customs", "queue.html", "en", user=CUSTOMS_HAN,
            cases=[_case(CASE_ROW, hours_later)], status="arrived",
            statuses=tuple(CaseStatus), lanes=list(Lane), examinations=list(Examination),
        )  # fmt: skip

    assert "card overdue" not in queue(1) and "Overdue" not in queue(1)
    assert "card overdue" in queue(30) and "Overdue" in queue(30)


def test_a_held_case_offers_no_fast_track() -> None:
    page = render(
        "customs", "queue.html", "en", user=CUSTOMS_HAN, cases=[_case(HELD_ROW)],
        status="arrived", statuses=tuple(CaseStatus), lanes=list(Lane),
        examinations=list(Examination),
    )  # fmt: skip
    assert 'class="fast-track"' not in page and "On hold" in page


def test_values_shown_from_the_customs_contracts_are_translated() -> None:
    known = _translated(
        CATALOGS[0], ROOT / "services/customs/web/locale/vi/LC_MESSAGES/messages.po"
    )
    shown = {s.value for s in CaseStatus}
    for values in (CaseClosure, DeclarationType, Document, DocumentStatus, ExaminationPlace,
                   HoldReason, PermitStatus, RefusalOutcome):  # fmt: skip
        shown |= {v.value for v in values}
    assert shown - known == set()


def test_the_queue_filters_by_priority_with_plain_links() -> None:
    page = render(
        "customs", "queue.html", "vi", user=CUSTOMS_HAN, cases=[_case(CASE_ROW)],
        status="arrived", statuses=tuple(CaseStatus), priority=Priority.URGENT,
        priorities=tuple(Priority), lanes=list(Lane), examinations=list(Examination),
    )  # fmt: skip
    assert 'href="/?status=arrived&amp;priority=urgent" aria-current="page">khẩn</a>' in page
    assert 'href="/?status=arrived" >Mọi mức ưu tiên</a>' in page
    assert 'href="/?status=cleared&amp;priority=urgent"' in page  # the status links keep it
