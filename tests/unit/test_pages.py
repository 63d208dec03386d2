"""The pages in Vietnamese and English, without a database; every page string is translated.

Templates are rendered through the environment the app builds (shared.http.rendering.templates_for)
with rows shaped like the projection tables' rows (JSON columns as text, times in UTC), and
the routes are called with a stand-in pool.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi import APIRouter
from jinja2 import Environment
from starlette.requests import Request

from services.allocation import main as allocation_main
from services.allocation import pages as allocation_pages
from services.allocation.domain.notices import RECEIPT_REASONS, NoticeStatus
from services.allocation.recipients import by_code
from services.customs import main as customs_main
from services.customs import pages as customs_pages
from services.customs.domain import CaseStatus
from services.customs.queries import CaseView
from services.intake import main as intake_main
from services.intake import pages as intake_pages
from services.reporting import main as reporting_main
from services.reporting import pages as reporting_pages
from shared.auth import Principal, Role, issue_token
from shared.contracts.customs import Examination, Lane
from shared.contracts.values import Category, Channel, Storage, Unit
from shared.http.app import create_app
from shared.http.i18n import Translator
from shared.http.pages import page_row
from shared.http.rendering import locale_dirs, templates_for
from shared.http.security import token_cookie
from shared.reference_data import provinces
from shared.runtime import ServiceSpec
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SHARED_WEB = ROOT / "shared" / "http" / "web"
SPECS = {
    s.name: s
    for s in (intake_main.SPEC, customs_main.SPEC, allocation_main.SPEC, reporting_main.SPEC)
}
ROUTERS = {
    "intake": intake_pages.router,
    "customs": customs_pages.router,
    "allocation": allocation_pages.router,
    "reporting": reporting_pages.router,
}
NOW = datetime(2021, 8, 25, 7, 20, tzinfo=UTC)  # 14:20 in Ha Noi
SHIPMENT_ID = uuid.UUID("6f1c3a52-8d0e-4b7a-9f3e-2a1b0c9d8e7f")

# -- rows as the projection tables hold them -------------------------------------------

LINE = {
    "line_no": 1,
    "product": "Vaxzevria (AstraZeneca)",
    "category": "vaccine",
    "unit": "doses",
    "pack_size": 10,
    "quantity": 811200,
    "storage": "2-8C",
    "lots": [{"lot_number": "ABV5300", "expiry_date": "2027-06-30", "quantity": 811200}],
}
SHIPMENT_ROW = {
    "shipment_id": SHIPMENT_ID,
    "donor": "COVAX",
    "channel": "covax",
    "airport": "HAN",
    "flight": "VN0317",
    "airway_bill": "738-12345675",
    "expected_arrival": NOW,
    "consignee": "NIHE",
    "status": "announced",
    "lines": [LINE],
    "received": None,
    "remarks": None,
    "announced_at": NOW,
    "announced_by": "intake.han",
    "arrived_at": None,
    "last_position": 1,
}
CASE_ROW = {
    "shipment_id": SHIPMENT_ID,
    "airport": "HAN",
    "donor": "COVAX",
    "channel": "covax",
    "airway_bill": "738-12345675",
    "expected_arrival": NOW,
    "status": "arrived",
    "lines": [LINE],
    "received": [{"line_no": 1, "lot_number": "ABV5300", "quantity": 811200}],
    "opened_at": NOW,
    "arrived_at": NOW,
    "cleared_at": None,
    "cleared_by": None,
    "declaration_number": None,
    "lane": None,
    "examination": None,
    "remarks": None,
    "cleared_lines": None,
    "last_position": 2,
}
CLEARED_ROW = CASE_ROW | {
    "status": "cleared",
    "cleared_at": NOW,
    "declaration_number": "104123456789",
    "lane": "green",
    "examination": "none",
}
NOTICE_ROW = {
    "notice_number": "R-0A1B2C3D-01-1",
    "round_id": "R-0A1B2C3D",
    "shipment_id": SHIPMENT_ID,
    "province_code": "01",
    "line_no": 1,
    "product": "Vaxzevria (AstraZeneca)",
    "unit": "doses",
    "pack_size": 10,
    "quantity": 53350,
    "packs": 5335,
    "lots": [{"lot_number": "ABV5300", "expiry_date": "2027-06-30", "quantity": 53350}],
    "status": "issued",
    "allocated_at": NOW,
    "acknowledged_at": None,
    "acknowledged_by": None,
    "position": 7,
}
ROUND_ROW = {
    "round_id": "R-0A1B2C3D",
    "shipment_id": SHIPMENT_ID,
    "policy": "population-share-v1",
    "decided_at": NOW,
    "lines": [
        {
            "line_no": 1,
            "product": "Vaxzevria (AstraZeneca)",
            "unit": "doses",
            "pack_size": 10,
            "cleared_quantity": 811200,
            "shares": [{"recipient_code": "01", "quantity": 53350, "packs": 5335}],
            "reserve_quantity": 40560,
            "reserve_lots": [],
        }
    ],
    "last_position": 3,
}


def user(role: Role, *scope: str) -> Principal:
    return Principal(f"{role.value}.test", "Nguyễn Thị Test", role, scope)


INTAKE_HAN = user(Role.INTAKE_OFFICER, "HAN")
CUSTOMS_HAN = user(Role.CUSTOMS_OFFICER, "HAN")
PROVINCE_01 = user(Role.PROVINCE_OFFICER, "01")
MINISTRY = user(Role.ALLOCATION_OFFICER)

# -- rendering the templates as the app does -------------------------------------------


@cache
def environment(service: str) -> tuple[Environment, Translator]:
    spec = SPECS[service]
    return templates_for(spec).env, Translator(locale_dirs(spec))


def request(path: str = "/", query: str = "") -> Request:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
    return Request(scope | {"headers": []})


def render(service: str, template: str, lang: str, **context: Any) -> str:
    env, translator = environment(service)
    context = {"request": request(), "service": SPECS[service]} | context
    return env.get_template(template).render(_=translator.gettext(lang), lang=lang, **context)


PAGES: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "intake",
        "shipments.html",
        {"user": INTAKE_HAN, "shipments": [page_row(SHIPMENT_ROW, "lines", "received")]},
        "Các lô hàng",
        "Consignments",
    ),
    (
        "intake",
        "announce.html",
        {"user": INTAKE_HAN} | intake_pages.announce_choices(INTAKE_HAN),
        "Thêm lô sản xuất",
        "Add a lot",
    ),
    (
        "intake",
        "shipment.html",
        {"user": INTAKE_HAN, "shipment": page_row(SHIPMENT_ROW, "lines", "received")},
        "Ghi nhận hàng đến",
        "Record the arrival",
    ),
    (
        "customs",
        "queue.html",
        {
            "user": CUSTOMS_HAN,
            "cases": [customs_pages.case_row(CaseView.model_validate(CASE_ROW))],
            "status": "arrived",
            "statuses": tuple(CaseStatus),
            "lanes": list(Lane),
            "examinations": list(Examination),
        },
        "Thông quan luồng ưu tiên",
        "Clear on the fast track",
    ),
    (
        "allocation",
        "inbox.html",
        {
            "user": PROVINCE_01,
            "recipient": by_code()["01"],
            "notices": [page_row(NOTICE_ROW, "lots")],
        },
        "Xác nhận đã nhận",
        "Acknowledge",
    ),
    (
        "allocation",
        "rounds.html",
        {
            "user": MINISTRY,
            "rounds": [page_row(ROUND_ROW, "lines")],
            "provinces": provinces(),
        },
        "Dự trữ quốc gia",
        "National reserve",
    ),
    (
        "customs",
        "login.html",
        {"user": None, "error": "bad-login"},
        "Sai tên đăng nhập hoặc mật khẩu.",
        "Unknown user or wrong password.",
    ),
]


@pytest.mark.parametrize(("service", "template", "context", "vi", "en"), PAGES)
def test_pages_render_in_both_languages(
    service: str, template: str, context: dict[str, Any], vi: str, en: str
) -> None:
    vietnamese = render(service, template, "vi", **context)
    english = render(service, template, "en", **context)
    assert vi in vietnamese and en not in vietnamese
    assert en in english and vi not in english
    assert vietnamese.startswith("<!doctype html>")
    assert '<html lang="vi">' in vietnamese and '<html lang="en">' in english
    assert 'href="/?lang=en"' in vietnamese and 'href="/?lang=vi"' in english
    if context["user"] is not None:
        assert "Đăng xuất" in vietnamese and "Sign out" in english
        assert 'action="/logout"' in english


def test_the_shared_header_and_the_login_form() -> None:
    vietnamese = render("intake", "login.html", "vi", user=None, error=None)
    assert "Đăng nhập" in vietnamese and "Tên đăng nhập" in vietnamese
    assert "Mật khẩu" in vietnamese and "make run" in vietnamese
    assert 'method="post" action="/login"' in vietnamese and "Đăng xuất" not in vietnamese
    assert "Tiếp nhận hàng" in vietnamese  # the service's title
    header = render("customs", "login.html", "en", user=CUSTOMS_HAN, error=None)
    assert "Nguyễn Thị Test · customs officer" in header and "AidPort · Customs" in header
    assert "cán bộ hải quan" in render("customs", "login.html", "vi", user=CUSTOMS_HAN, error=None)


def test_the_language_switch_keeps_the_path_and_the_query() -> None:
    here = request("/shipments/42", "status=cleared&lang=en")
    page = render("customs", "login.html", "en", request=here, user=None, error=None)
    assert 'href="/shipments/42?status=cleared&amp;lang=vi"' in page
    assert 'href="/shipments/42?status=cleared&amp;lang=en"' in page


def test_numbers_and_times_are_written_the_readers_way() -> None:
    shipment = page_row(SHIPMENT_ROW, "lines", "received")
    vietnamese = render("intake", "shipment.html", "vi", user=INTAKE_HAN, shipment=shipment)
    english = render("intake", "shipment.html", "en", user=INTAKE_HAN, shipment=shipment)
    # Viet Nam time (07:20 UTC is 14:20), and a dot between thousands where a comma is decimal.
    assert "25/08/2021 14:20" in vietnamese and "811.200 liều" in vietnamese
    assert "2021-08-25 14:20" in english and "811,200 doses" in english


def test_the_arrival_form_is_prefilled_with_the_announced_lots() -> None:
    announced = page_row(SHIPMENT_ROW, "lines", "received")
    page = render("intake", "shipment.html", "en", user=INTAKE_HAN, shipment=announced)
    assert 'data-line="1" data-lot="ABV5300" value="811200"' in page
    assert "/api/v1/shipments/6f1c3a52-8d0e-4b7a-9f3e-2a1b0c9d8e7f/arrival" in page
    arrived = announced | {"status": "arrived", "arrived_at": NOW, "received": []}
    assert 'id="arrival"' not in render(
        "intake", "shipment.html", "en", user=INTAKE_HAN, shipment=arrived
    )


def test_the_announce_form_offers_only_the_officers_airports_and_the_enums() -> None:
    choices = intake_pages.announce_choices(INTAKE_HAN)
    page = render("intake", "announce.html", "vi", user=INTAKE_HAN, **choices)
    assert [a.iata for a in choices["airports"]] == ["HAN"]
    assert '<option value="HAN">' in page and '<option value="SGN">' not in page
    assert "vắc xin" in page and "2 đến 8 °C" in page and "viện trợ song phương" in page
    assert 'id="add-line"' in page and "add-lot" in page and 'type="datetime-local"' in page


@pytest.mark.parametrize(
    ("row", "offered"), [(CASE_ROW | {"status": "awaiting_arrival"}, False), (CASE_ROW, True)]
)
def test_the_fast_track_form_only_between_arrival_and_clearance(
    row: dict[str, Any], offered: bool
) -> None:
    page = render(
        "customs",
        "queue.html",
        "en",
        user=CUSTOMS_HAN,
        cases=[customs_pages.case_row(CaseView.model_validate(row))],
        status=row["status"],
        statuses=tuple(CaseStatus),
        lanes=list(Lane),
        examinations=list(Examination),
    )
    assert ('class="fast-track"' in page) is offered


def test_a_cleared_case_shows_its_declaration_and_lane() -> None:
    cleared = customs_pages.case_row(CaseView.model_validate(CLEARED_ROW))
    page = render(
        "customs",
        "queue.html",
        "vi",
        user=CUSTOMS_HAN,
        cases=[cleared],
        status="cleared",
        statuses=tuple(CaseStatus),
        lanes=list(Lane),
        examinations=list(Examination),
    )
    assert "104123456789" in page and "luồng xanh" in page and 'class="fast-track"' not in page


def test_the_inbox_fragment_is_the_list_alone() -> None:
    acknowledged = page_row(NOTICE_ROW | {"status": "acknowledged", "acknowledged_at": NOW}, "lots")
    page = render("allocation", "_notices.html", "vi", user=PROVINCE_01, notices=[acknowledged])
    assert "<html" not in page and "đã xác nhận" in page and "Xác nhận lúc" in page
    assert 'class="acknowledge"' not in page  # nothing left to acknowledge
    assert "5.335 kiện" in page


def test_the_inbox_follows_the_live_feed() -> None:
    notices = [page_row(NOTICE_ROW, "lots")]
    page = render(
        "allocation",
        "inbox.html",
        "en",
        user=PROVINCE_01,
        recipient=by_code()["01"],
        notices=notices,
    )
    assert "/api/v1/recipients/01/notices/stream" in page and "/recipients/01/fragment" in page
    assert "/api/v1/recipients/01/notices/R-0A1B2C3D-01-1/acknowledge" in page


# -- the routes, with a stand-in for the database pool ------------------------------------


class FakePool:
    """Answers every read with the given rows and remembers the arguments."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.args: list[tuple[Any, ...]] = []

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        if "FROM arrival_reports" in query or "FROM shipment_parts" in query:
            return []  # intake's parts and VARs: none in these pages' rows
        self.args.append(args)
        return self.rows

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        if "FROM accounts" in query:  # the reader's account: known and active
            return {"active": True, "token_version": 1, "demo": False}
        self.args.append(args)
        return self.rows[0] if self.rows else None


def client(
    service: str, rows: list[dict[str, Any]], reader: Principal | None
) -> tuple[httpx.AsyncClient, FakePool]:
    spec: ServiceSpec = SPECS[service]
    routers: list[APIRouter] = [ROUTERS[service]]
    app = create_app(spec, Settings(service=service, env="development"), routers)
    pool = FakePool(rows)
    app.state.runtime.pool = pool
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://page")
    if reader is not None:
        secret = app.state.runtime.settings.jwt_secret
        token = issue_token(reader, secret, timedelta(minutes=5), service)
        browser.cookies.set(token_cookie(service), token)
    return browser, pool


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("intake", "/"),
        ("intake", "/shipments/new"),
        ("customs", "/"),
        ("allocation", "/"),
        ("reporting", "/"),
    ],
)
async def test_a_page_without_a_session_sends_to_the_login_page(service: str, path: str) -> None:
    response = await client(service, [], None)[0].get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login"


async def test_the_intake_list_reads_the_officers_airports_in_vietnamese_by_default() -> None:
    browser, pool = client("intake", [SHIPMENT_ROW], INTAKE_HAN)
    page = await browser.get("/")
    assert page.status_code == 200 and "Các lô hàng" in page.text and "738-12345675" in page.text
    assert pool.args == [(["HAN"],)]
    english = await browser.get("/", params={"lang": "en"})
    assert "Consignments" in english.text and english.cookies.get("aidport_lang") == "en"


async def test_a_consignment_of_another_airport_is_not_shown() -> None:
    browser, _ = client("intake", [SHIPMENT_ROW | {"airport": "SGN"}], INTAKE_HAN)
    assert (await browser.get(f"/shipments/{SHIPMENT_ID}")).status_code == 403
    browser, _ = client("intake", [], INTAKE_HAN)
    assert (await browser.get(f"/shipments/{SHIPMENT_ID}")).status_code == 404


async def test_the_customs_queue_filters_by_status_and_priority() -> None:
    browser, pool = client("customs", [CLEARED_ROW], CUSTOMS_HAN)
    page = await browser.get("/", params={"status": "cleared", "lang": "en"})
    assert page.status_code == 200 and 'aria-current="page">cleared' in page.text
    assert ">awaiting arrival</a>" in page.text  # a code, readable in English
    assert pool.args == [("cleared", ["HAN"], None)]
    await browser.get("/", params={"status": "anything"})
    assert pool.args[-1] == ("arrived", ["HAN"], None)
    await browser.get("/", params={"status": "arrived", "priority": "emergency"})
    assert pool.args[-1] == ("arrived", ["HAN"], "emergency")
    await browser.get("/", params={"priority": "critical"})  # unknown: every priority
    assert pool.args[-1] == ("arrived", ["HAN"], None)


async def test_a_province_officer_reads_its_own_inbox_only() -> None:
    browser, _ = client("allocation", [NOTICE_ROW], PROVINCE_01)
    home = await browser.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/recipients/01"
    assert "Thông báo phân bổ" in (await browser.get("/recipients/01")).text
    assert "Thông báo phân bổ" in (await browser.get("/provinces/01")).text  # as before
    assert (await browser.get("/provinces/79")).status_code == 403
    assert (await browser.get("/provinces/99")).status_code == 404
    fragment = await browser.get("/provinces/01/fragment", params={"lang": "en"})
    assert "<html" not in fragment.text and "Acknowledge" in fragment.text


async def test_the_ministry_sees_the_rounds_and_every_recipient() -> None:
    browser, _ = client("allocation", [ROUND_ROW], MINISTRY)
    page = await browser.get("/", params={"lang": "en"})
    assert page.status_code == 200 and "R-0A1B2C3D" in page.text
    assert page.text.count('href="/recipients/') == len(provinces()) + 5  # and MOD, MPS, ...
    assert 'href="/recipients/MOD"' in page.text


# -- the catalogs ------------------------------------------------------------------------

CATALOGS = sorted([*ROOT.glob("shared/http/web/locale/*/LC_MESSAGES/*.po")]) + sorted(
    ROOT.glob("services/*/web/locale/*/LC_MESSAGES/*.po")
)
MSGID = re.compile(r"""\b_\(\s*(?:'([^']*)'|"([^"]*)")\s*\)""")


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale="vi", abort_invalid=True)


def _translated(*paths: Path) -> set[str]:
    return {str(m.id) for path in paths for m in _read(path) if m.id and m.string}


def _used_intemplates_for(service: str) -> set[str]:
    templates = [*(ROOT / "services" / service / "web" / "templates").glob("*.html")]
    templates += (SHARED_WEB / "templates").glob("*.html")
    return {a or b for t in templates for a, b in MSGID.findall(t.read_text(encoding="utf-8"))}


def test_there_is_a_vietnamese_catalog_for_the_shared_pages_and_each_service() -> None:
    assert len(CATALOGS) == 5


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_catalog_parses_and_is_complete(path: Path) -> None:
    catalog = _read(path)
    text = path.read_text(encoding="utf-8")
    ids = re.findall(r'^msgid "(.+)"$', text, flags=re.MULTILINE)
    assert len(ids) == len(set(ids)), "a msgid is listed twice"
    assert not [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert not [(m.id, errors) for m, errors in catalog.check()]


@pytest.mark.parametrize("service", SPECS)
def test_every_template_string_has_a_vietnamese_translation(service: str) -> None:
    known = _translated(
        CATALOGS[0], ROOT / f"services/{service}/web/locale/vi/LC_MESSAGES/messages.po"
    )
    used = _used_intemplates_for(service)
    assert len(used) > 20 and used - known == set()


def test_babel_cfg_extracts_what_the_templates_use() -> None:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    extracted = {
        str(message)
        for folder in ("services", "shared/http")
        for _file, _line, message, *_rest in extract_from_dir(
            ROOT / folder, method_map, options_map
        )
    }
    assert extracted == set().union(*(_used_intemplates_for(s) for s in SPECS))


def test_values_shown_from_the_data_are_translated() -> None:
    # Enum values, statuses, roles and service titles reach _() from rows and specs.
    known = _translated(CATALOGS[0])
    shown: set[str] = {s.title for s in SPECS.values()}
    for values in (Role, Lane, Examination, Category, Channel, Storage, Unit):
        shown |= {v.value for v in values}
    shown |= {"announced", "arrived", "awaiting_arrival", "cleared"}
    shown |= {s.value for s in NoticeStatus} | {r.value for r in RECEIPT_REASONS}
    assert shown - known == set()


def test_a_record_at_the_end_of_the_calendar_still_renders() -> None:
    """Dates this far out are refused now; a page must not fail on an older record."""
    far = SHIPMENT_ROW | {"expected_arrival": datetime(9999, 12, 31, 23, 0, tzinfo=UTC)}
    html = render("intake", "shipments.html", "en", user=INTAKE_HAN, shipments=[page_row(far)])
    assert "9999" in html
