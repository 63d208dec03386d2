"""The pages render in Vietnamese and English, and every page string has a translation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from shared.auth import Principal, Role
from shared.http.i18n import Translator
from shared.reference_data import airports, provinces
from shared.runtime import ServiceSpec

ROOT = Path(__file__).resolve().parents[2]
SHARED_WEB = ROOT / "shared" / "http" / "web"
NOW = datetime(2021, 8, 25, 7, 20, tzinfo=UTC)


def environment(service: str) -> tuple[Environment, Translator]:
    web = ROOT / "services" / service / "web"
    loader = ChoiceLoader(
        [FileSystemLoader(web / "templates"), FileSystemLoader(SHARED_WEB / "templates")]
    )
    return Environment(loader=loader, autoescape=True), Translator(
        [SHARED_WEB / "locale", web / "locale"]
    )


def render(service: str, template: str, lang: str, **context: Any) -> str:
    env, translator = environment(service)
    spec = ServiceSpec(name=service, title=service.title(), migrations=ROOT)
    return env.get_template(template).render(
        _=translator.gettext(lang), lang=lang, service=spec, **context
    )


LINE = {
    "line_no": 1,
    "product": "Vaxzevria (AstraZeneca)",
    "unit": "doses",
    "quantity": 811200,
    "pack_size": 10,
    "storage": "2-8C",
    "lots": [{"lot_number": "ABV5300", "expiry_date": "2027-06-30", "quantity": 811200}],
}
SHIPMENT = {
    "shipment_id": uuid.uuid4(),
    "airway_bill": "738-12345675",
    "donor": "COVAX",
    "channel": "covax",
    "airport": "HAN",
    "flight": "VN0317",
    "expected_arrival": NOW,
    "consignee": "NIHE",
    "status": "announced",
    "lines": [LINE],
    "received": [],
    "arrived_at": None,
    "remarks": None,
}
CASE = SHIPMENT | {
    "status": "arrived",
    "opened_at": NOW,
    "arrived_at": NOW,
    "received_total": 811200,
    "cleared_at": None,
    "declaration_number": None,
    "lane": None,
}
NOTICE = {
    "notice_number": "R-0A1B2C3D-01-1",
    "province_code": "01",
    "product": "Vaxzevria",
    "unit": "doses",
    "quantity": 53350,
    "packs": 5335,
    "pack_size": 10,
    "status": "new",
    "allocated_at": NOW,
    "acknowledged_at": None,
    "lots": [{"lot_number": "ABV5300", "expiry_date": date(2027, 6, 30), "quantity": 53350}],
}

PAGES = [
    (
        "intake",
        "shipments.html",
        Role.INTAKE_OFFICER,
        ("HAN",),
        {"shipments": [SHIPMENT]},
        "Các lô hàng",
        "Consignments",
    ),
    (
        "intake",
        "announce.html",
        Role.INTAKE_OFFICER,
        ("HAN",),
        {
            "airports": [airports()["HAN"]],
            "channels": [],
            "categories": [],
            "units": [],
            "storages": [],
        },
        "Báo trước lô hàng",
        "Announce a consignment",
    ),
    (
        "intake",
        "shipment.html",
        Role.INTAKE_OFFICER,
        ("HAN",),
        {"shipment": SHIPMENT},
        "Ghi nhận hàng đến",
        "Record the arrival",
    ),
    (
        "customs",
        "queue.html",
        Role.CUSTOMS_OFFICER,
        ("HAN",),
        {
            "cases": [CASE],
            "status": "arrived",
            "statuses": ["arrived"],
            "lanes": [],
            "examinations": [],
        },
        "Thông quan luồng ưu tiên",
        "Clear on the fast track",
    ),
    (
        "allocation",
        "inbox.html",
        Role.PROVINCE_OFFICER,
        ("01",),
        {"province": provinces()[0], "notices": [NOTICE]},
        "Xác nhận đã nhận thông báo",
        "Acknowledge",
    ),
    (
        "allocation",
        "rounds.html",
        Role.ALLOCATION_OFFICER,
        (),
        {"rounds": [], "provinces": provinces()},
        "Các đợt phân bổ",
        "Allocation rounds",
    ),
    (
        "intake",
        "login.html",
        Role.INTAKE_OFFICER,
        (),
        {"user": None, "error": "bad-login"},
        "Sai tên đăng nhập hoặc mật khẩu.",
        "Unknown user or wrong password.",
    ),
]


@pytest.mark.parametrize(("service", "template", "role", "scope", "context", "vi", "en"), PAGES)
def test_pages_render_in_both_languages(
    service: str,
    template: str,
    role: Role,
    scope: tuple[str, ...],
    context: dict[str, Any],
    vi: str,
    en: str,
) -> None:
    user = Principal("someone", "Someone", role, scope)
    context = {"user": user} | context
    vietnamese = render(service, template, "vi", **context)
    english = render(service, template, "en", **context)
    assert vi in vietnamese and en not in vietnamese.replace(vi, "")
    assert en in english
    assert '<html lang="vi">' in vietnamese and '<html lang="en">' in english
    assert 'href="?lang=en"' in vietnamese and 'href="?lang=vi"' in english


MSGID = re.compile(r"""_\(\s*(?:'([^']+)'|"([^"]+)")\s*\)""")


def _catalog(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id and m.string}


@pytest.mark.parametrize("service", ["intake", "customs", "allocation"])
def test_every_page_string_has_a_vietnamese_translation(service: str) -> None:
    web = ROOT / "services" / service / "web"
    known = _catalog(SHARED_WEB / "locale/vi/LC_MESSAGES/messages.po")
    known |= _catalog(web / "locale/vi/LC_MESSAGES/messages.po")
    used: set[str] = set()
    for template in [
        *(web / "templates").glob("*.html"),
        *(SHARED_WEB / "templates").glob("*.html"),
    ]:
        used |= {a or b for a, b in MSGID.findall(template.read_text(encoding="utf-8"))}
    assert used - known == set()


def test_enum_values_shown_on_pages_are_translated() -> None:
    from shared.auth import Role as Roles
    from shared.contracts.customs import Examination, Lane
    from shared.contracts.values import Category, Channel, Storage, Unit

    known = _catalog(SHARED_WEB / "locale/vi/LC_MESSAGES/messages.po")
    for enum in (Roles, Lane, Examination, Category, Channel, Storage, Unit):
        assert {e.value for e in enum} <= known, enum
