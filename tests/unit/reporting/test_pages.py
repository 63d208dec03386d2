"""Reporting's templates, rendered as the app does: both languages, a table beside every
chart, nothing inline that the CSP would block, exports for the tables."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reporting import export, pages
from services.reporting.application import populations
from services.reporting.domain import picture, reports
from services.reporting.domain.replay import Recorded, fold
from services.reporting.queries import Timeline, TimelineEntry
from shared.auth import Principal, Role
from shared.http.pages import viet_nam_time
from shared.reference_data import national_recipients
from tests.reporting_events import T0, flow
from tests.unit.test_pages import environment, render

VIEWER = Principal("viewer", "National viewer", Role.NATIONAL_VIEWER)
NOW = T0 + timedelta(days=10)
SHIPMENT = uuid.UUID("00000000-0000-4000-8000-00000000b001")


def consignments() -> list[Any]:
    events = [
        *flow(SHIPMENT, donor="Japan", doses=1000, rejected=10),
        *flow(uuid.uuid4(), donor="COVAX", doses=500, until="arrived", var_filed=False),
    ]
    recorded = [Recorded(str(p.event.shipment_id), p.recorded_at, p.event) for p in events]
    return list(fold(recorded).values())


def rendered(view: picture.Dashboard, lang: str, template: str, **changes: Any) -> str:
    """A dashboard template as the pages render it, with ``changes`` to its context."""
    context = {
        "user": VIEWER,
        "view": view,
        "charts": pages._charts(view, lang, environment("reporting")[1].gettext(lang)),
        "as_of": "",
        "as_of_error": None,
        "sort": "code",
        "sortable": pages.SORTABLE,
        "local": viet_nam_time,
        "stuck_shown": pages.STUCK_SHOWN,
    }
    return render("reporting", template, lang, **(context | changes))


def dashboard(lang: str, **changes: Any) -> str:
    view = picture.dashboard(consignments(), populations(), NOW, replayed=False)
    return rendered(view, lang, "dashboard.html", **changes)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("vi", ["Bức tranh toàn quốc", "Tiến trình theo bước", "máy bay đến → giải phóng"]),
        ("en", ["National picture", "Pipeline by stage", "aircraft to release"]),
    ],
)
def test_the_dashboard_in_both_languages(lang: str, words: list[str]) -> None:
    html = dashboard(lang)
    for word in words:
        assert word in html
    assert html.count("<svg") == 3 + 4  # pipeline, provinces, donors, four histograms
    # every chart is followed by its table
    assert len(re.findall(r"</svg>\s*<table", html)) == html.count("<svg")


def test_the_dashboard_has_nothing_inline_for_the_csp_to_block() -> None:
    html = dashboard("en")
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "/api/v1/dashboard?format=csv&amp;table=provinces" in html
    assert 'data-stream="/api/v1/dashboard/stream"' in html
    assert 'href="?sort=doses_per_100"' in html  # sorting works without JavaScript


def test_an_as_of_error_is_shown_next_to_its_field() -> None:
    view = picture.dashboard(consignments(), populations(), NOW, replayed=True)
    html = rendered(view, "en", "dashboard.html", as_of="soon", as_of_error="as_of is unreadable")
    assert 'aria-invalid="true" aria-describedby="as_of_error"' in html
    assert "data-stream" not in html  # a replayed picture does not follow the live feed


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_donor_report_and_its_printable_letter(lang: str) -> None:
    report = reports.donor_report(consignments(), "Japan", NOW)
    context = {
        "user": VIEWER,
        "report": report,
        "since": None,
        "until": None,
        "as_of": "",
        "as_of_error": None,
        "local": viet_nam_time,
    }
    page = render("reporting", "donor.html", lang, **context)
    letter = render("reporting", "letter.html", lang, **context)
    assert "AWB-00000000" in page and "/letter" in page
    assert ("Thư cảm ơn" if lang == "vi" else "Letter of acknowledgement") in letter
    assert ("hư hỏng" if lang == "vi" else "damaged") in page


def test_the_province_summary_and_the_timeline() -> None:
    hanoi = next(p for p in populations() if p.code == "01")
    summary = reports.province_summary(consignments(), hanoi, NOW)
    html = render(
        "reporting",
        "province.html",
        "en",
        user=VIEWER,
        summary=summary,
        as_of="",
        as_of_error=None,
        local=viet_nam_time,
    )
    assert "Ha Noi" in html and "Japan" in html
    moment = datetime(2021, 8, 1, 1, tzinfo=UTC)
    timeline = Timeline(
        shipment_id=SHIPMENT,
        as_of=None,
        events=[
            TimelineEntry(
                recorded_at=moment,
                service="intake",
                event="ShipmentAnnounced",
                version="v1",
                actor="intake.han",
                data={},
            )
        ],
    )
    html = render(
        "reporting",
        "timeline.html",
        "vi",
        user=VIEWER,
        timeline=timeline,
        as_of="",
        as_of_error=None,
        local=viet_nam_time,
    )
    assert "ShipmentAnnounced" in html and "intake.han" in html and "01/08/2021 08:00" in html


def test_the_dashboard_shows_what_each_national_recipient_received() -> None:
    events = flow(SHIPMENT, donor="China", doses=1000, provinces=("MOD", "01"))
    recorded = [Recorded(str(p.event.shipment_id), p.recorded_at, p.event) for p in events]
    view = picture.dashboard(
        fold(recorded).values(), populations(), NOW, False, national_recipients()
    )
    assert [r.code for r in view.national] == ["MOD", "MPS", "NEPI", "NICVB", "MOHH"]
    army = view.national[0]
    assert army.allocated_doses == 500 and 0 < army.received_doses <= 500  # as received
    assert all(r.allocated_doses == 0 for r in view.national[1:])
    html = rendered(view, "en", "_dashboard.html")
    assert "National recipients" in html and "MOD · Ministry of National Defence" in html


def test_a_national_recipient_has_its_own_summary_and_export() -> None:
    events = flow(SHIPMENT, donor="China", doses=1000, provinces=("MOD", "01"))
    recorded = [Recorded(str(p.event.shipment_id), p.recorded_at, p.event) for p in events]
    army = national_recipients()[0]
    summary = reports.recipient_summary(list(fold(recorded).values()), army, NOW)
    assert summary.recipient.code == "MOD" and summary.recipient.allocated_doses == 500
    assert [n.quantity for n in summary.notices] == [500]  # the army's, not Ha Noi's
    tables = {name: rows for name, _, rows in export.recipient_tables(summary)}
    assert tables["recipient"][0][:2] == ["MOD", army.name_vi]
    assert len(tables["notices"]) == 1


@pytest.mark.parametrize(("lang", "said"), [("en", "The oldest 1 of 2"), ("vi", "Hiển thị 1")])
def test_the_page_lists_the_oldest_stuck_items_and_points_to_the_export(
    lang: str, said: str
) -> None:
    assert said not in dashboard(lang)  # both stuck items shown
    shown = dashboard(lang, stuck_shown=1)
    assert said in shown
    assert shown.count('<a href="/shipments/') < dashboard(lang).count('<a href="/shipments/')
