"""The allocation desk, the printable decision annex and the policy page, in Vietnamese and
English; forms offered by role and status; every value shown from the data translated."""

from __future__ import annotations

from typing import Any

import pytest
from babel.messages.pofile import read_po

from services.allocation import pages
from shared.auth import Role
from shared.http.pages import page_row
from tests.unit.test_pages import (
    CATALOGS,
    MINISTRY,
    NOW,
    ROOT,
    SHIPMENT_ID,
    client,
    render,
    user,
)

APPROVER = user(Role.ALLOCATION_APPROVER)
DRAFT_ROW: dict[str, Any] = {
    "round_id": "R-6F1C3A528D0E4B7A9F3E2A1B0C9D8E7F-1",
    "shipment_id": SHIPMENT_ID,
    "policy": "moderna-covax-3400-2021/v1",
    "decided_at": NOW,
    "lines": [
        {
            "line_no": 1,
            "product": "Spikevax (Moderna)",
            "unit": "doses",
            "packaging_level": "shipper_carton",
            "pack_size": 14,
            "released_quantity": 2_000_040,
            "shares": [
                {
                    "recipient_code": "MOD",
                    "quantity": 42_000,
                    "packs": 3000,
                    "basis": "quota",
                    "reasoning": "quota 42000: army",
                    "lots": [{"lot_number": "M1", "expiry_date": "2021-12-01", "quantity": 42_000}],
                },
                {
                    "recipient_code": "79",
                    "quantity": 235_200,
                    "packs": 16_800,
                    "basis": "quota",
                    "reasoning": "quota 235200",
                    "lots": [],
                },
                {
                    "recipient_code": "46",
                    "quantity": 21_840,
                    "packs": 1560,
                    "basis": "share",
                    "reasoning": "",
                    "lots": [],
                },
            ],
            "reserve_quantity": 0,
            "reserve_lots": [],
        }
    ],
    "source": "release",
    "release_no": 1,
    "policy_id": "moderna-covax-3400-2021",
    "policy_version": 1,
    "status": "drafted",
    "automatic": False,
    "use_by": None,
    "released_at": NOW,
    "drafted_by": "",
    "donor": "USA (COVAX)",
    "decision_number": None,
    "decision_date": None,
    "approved_by": None,
    "approved_at": None,
    "adjustments": [],
    "amendments": [],
}
APPROVED_ROW = DRAFT_ROW | {
    "status": "approved",
    "decision_number": "3400/QĐ-BYT",
    "decision_date": "2021-07-12",
    "approved_by": "approver.moh",
}


def desk(reader: Any, row: dict[str, Any], lang: str = "en") -> str:
    context = pages.desk_context(reader, page_row(row))
    return render("allocation", "round.html", lang, **context)


def test_the_desk_shows_the_draft_as_a_table_of_recipients_with_their_basis() -> None:
    english, vietnamese = desk(MINISTRY, DRAFT_ROW), desk(MINISTRY, DRAFT_ROW, "vi")
    assert "Ministry of National Defence" in english and "Bộ Quốc phòng" in vietnamese
    assert "235,200" in english and "235.200" in vietnamese
    assert "quota 42000: army" in english and "định mức" in vietnamese
    assert 'data-recipient="reserve" data-quantity="0"' in english
    assert "Allocation desk" in english and "Bàn phân bổ" in vietnamese


@pytest.mark.parametrize(
    ("reader", "row", "offered", "absent"),
    [
        (MINISTRY, DRAFT_ROW, ["desk-adjust", "desk-redraft"], ["desk-approve", "desk-amend"]),
        (APPROVER, DRAFT_ROW, ["desk-approve"], ["desk-adjust", "desk-amend"]),
        (APPROVER, APPROVED_ROW, ["desk-amend"], ["desk-approve", "desk-adjust"]),
        (MINISTRY, APPROVED_ROW, [], ["desk-adjust", "desk-approve", "desk-release"]),
    ],
)
def test_the_forms_follow_the_role_and_the_status(
    reader: Any, row: dict[str, Any], offered: list[str], absent: list[str]
) -> None:
    page = desk(reader, row)
    assert all(f'class="{form}"' in page for form in offered)
    assert not any(f'class="{form}"' in page for form in absent)
    assert page.count("<label>") == page.count("</label>")  # every field has its label


def test_the_reserve_can_be_released_from_an_approved_round_that_holds_some() -> None:
    holding = APPROVED_ROW | {"lines": [DRAFT_ROW["lines"][0] | {"reserve_quantity": 1680}]}
    page = desk(MINISTRY, holding)
    assert 'class="desk-release"' in page and "/api/v1/reserve/releases" in page


def test_the_annex_carries_the_decision_number_and_prints() -> None:
    row = page_row(APPROVED_ROW)
    from services.allocation.recipients import by_code

    for lang, title in (("vi", "Phụ lục kèm theo quyết định"), ("en", "Annex to decision")):
        page = render(
            "allocation", "annex.html", lang, user=MINISTRY, round=row, recipients=by_code()
        )
        assert f"{title} 3400/QĐ-BYT" in page
        assert "allocation-print.css" in page and "<script" not in page.split("</head>")[1]


def test_the_policy_page_documents_the_trade_off() -> None:
    from services.allocation.policies.catalog import catalog
    from services.allocation.recipients import by_code

    found = list(catalog().values())
    for lang, words in (("en", "Alabama paradox"), ("vi", "nghịch lý Alabama")):
        page = render(
            "allocation", "policies.html", lang, user=MINISTRY, policies=found, recipients=by_code()
        )
        assert words in page and 'id="moderna-covax-3400-2021"' in page


def test_the_policy_page_shows_automatic_approval_by_priority_and_the_caps() -> None:
    from services.allocation.policies.catalog import catalog
    from services.allocation.recipients import by_code

    found = list(catalog().values())
    page = render(
        "allocation", "policies.html", "en", user=MINISTRY, policies=found, recipients=by_code()
    )
    default = page.split('id="population-share"')[1].split("</section>")[0]
    assert "for consignments of priority <strong>emergency</strong>" in default
    assert "fast-track relief always" in default
    capped = page.split('id="population-share-capped"')[1].split("</section>")[0]
    assert "Caps: the target less what the recipient accepted" in capped
    assert "12,330,534" in capped  # Ha Noi: 70 % of 8,807,523 people, 2 doses each


async def test_the_desk_routes_read_one_round_by_its_id() -> None:
    browser, pool = client("allocation", [APPROVED_ROW], MINISTRY)
    round_id = APPROVED_ROW["round_id"]
    page = await browser.get(f"/rounds/{round_id}", params={"lang": "en"})
    assert page.status_code == 200 and "Printable decision annex" in page.text
    assert pool.args[-1] == (round_id,)
    annex = await browser.get(f"/rounds/{round_id}/annex")
    assert annex.status_code == 200 and "3400/QĐ-BYT" in annex.text
    assert (await browser.get("/policies")).status_code == 200
    draft, _ = client("allocation", [DRAFT_ROW], MINISTRY)
    assert (await draft.get(f"/rounds/{round_id}/annex")).status_code == 404
    nothing, _ = client("allocation", [], MINISTRY)
    assert (await nothing.get("/rounds/R-NONE")).status_code == 404
    province, _ = client("allocation", [DRAFT_ROW], user(Role.PROVINCE_OFFICER, "01"))
    assert (await province.get(f"/rounds/{round_id}")).status_code == 403


def test_every_code_the_desk_shows_from_the_data_is_translated() -> None:
    catalog = ROOT / "services/allocation/web/locale/vi/LC_MESSAGES/messages.po"
    known = set()
    for path in (CATALOGS[0], catalog):
        with path.open("rb") as handle:
            known |= {str(m.id) for m in read_po(handle, locale="vi") if m.id and m.string}
    from services.allocation.domain import RoundStatus
    from services.allocation.policies.apportion import Method
    from services.allocation.policies.model import CartonFallback, PackagingLevel
    from shared.contracts.allocation import RoundSource, ShareBasis

    shown = set()
    for values in (RoundStatus, ShareBasis, RoundSource, Method, PackagingLevel, CartonFallback):
        shown |= {v.value for v in values}
    assert shown - known == set()
