"""Reporting pages (vi/en): the national dashboard (live over SSE), a province's summary,
the donors, a donor's report and its printable acknowledgement letter, a consignment's
timeline. Each reads ``as_of`` as the API does; a bad one is shown next to its field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting import charts
from services.reporting.api import NATIONAL_ROLES, period
from services.reporting.application import Reporting
from services.reporting.domain.picture import Dashboard
from shared.auth import Principal, Role
from shared.decider import DomainError, InvalidInput, NotFound
from shared.http.deps import RuntimeDep
from shared.http.i18n import Translator, request_language
from shared.http.pages import PageForbidden, signed_in, viet_nam_time
from shared.http.rendering import render
from shared.http.security import MaybeUser

router = APIRouter(include_in_schema=False)
AsOf = Annotated[str | None, Query(max_length=40)]
SORTABLE = ("code", "population", "allocated_doses", "received_doses", "doses_per_100")
STUCK_SHOWN = 200
"""Stuck items listed on the page, oldest first (the API and the exports give them all)."""


def _as_of(value: str | None) -> str | None:
    return value or None  # an empty field of the form means "now"


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    as_of: AsOf = None,
    sort: Annotated[str, Query(max_length=20)] = "code",
) -> Response:
    reader = signed_in(user, Role.PROVINCE_OFFICER, *NATIONAL_ROLES)
    if reader.role is Role.PROVINCE_OFFICER:
        if not reader.scope:
            raise PageForbidden(reader)
        return RedirectResponse(f"/provinces/{reader.scope[0]}", status_code=303)
    return await _dashboard(request, runtime, reader, as_of, sort, "dashboard.html")


@router.get("/fragment", response_class=HTMLResponse)
async def dashboard_fragment(
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    sort: Annotated[str, Query(max_length=20)] = "code",
) -> Response:
    """The live dashboard's body alone, fetched again when the feed says something changed."""
    reader = signed_in(user, *NATIONAL_ROLES)
    return await _dashboard(request, runtime, reader, None, sort, "_dashboard.html")


async def _dashboard(
    request: Request,
    runtime: Any,
    reader: Principal,
    as_of: str | None,
    sort: str,
    template: str,
) -> HTMLResponse:
    reporting = Reporting.of(runtime)
    error = None
    try:
        view = await reporting.dashboard(_as_of(as_of))
    except InvalidInput as refused:
        error, view = refused.detail, await reporting.dashboard(None)
    lang = request_language(request)
    translator: Translator = request.app.state.translator
    key = sort if sort in SORTABLE else "code"
    view.provinces.sort(key=lambda p: getattr(p, key), reverse=key != "code")
    return render(
        request,
        template,
        user=reader,
        view=view,
        charts=_charts(view, lang, translator.gettext(lang)),
        as_of=as_of or "",
        as_of_error=error,
        sort=key,
        sortable=SORTABLE,
        local=viet_nam_time,
        stuck_shown=STUCK_SHOWN,
    )


def _charts(view: Dashboard, lang: str, _: Callable[[str], str]) -> dict[str, Any]:
    """The dashboard's charts, labelled in the reader's language (codes as ``term`` shows)."""

    def term(code: str) -> str:
        return _(code).replace("_", " ")

    names = {p.code: (p.name_vi if lang == "vi" else p.name_en) for p in view.provinces}
    lead = {
        d.step.value: charts.bars(
            term(d.step.value),
            [("≤ " + (f"{b.le_hours:g} h" if b.le_hours else "∞"), b.count) for b in d.buckets],
            "bar lead",
        )
        for d in view.lead_times
    }
    return {
        "pipeline": charts.bars(
            _("Pipeline by stage"), [(term(r.stage.value), r.consignments) for r in view.pipeline]
        ),
        "provinces": charts.bars(
            _("Doses per 100 inhabitants, by province"),
            [(names[p.code], p.doses_per_100) for p in view.provinces],
        ),
        "donors": charts.bars(_("By donor"), [(d.key, d.announced_doses) for d in view.donors]),
        "lead": lead,
    }


@router.get("/provinces/{code}", response_class=HTMLResponse)
async def province(
    code: str, request: Request, runtime: RuntimeDep, user: MaybeUser, as_of: AsOf = None
) -> HTMLResponse:
    reader = signed_in(user, Role.PROVINCE_OFFICER, *NATIONAL_ROLES)
    if len(code) > 16:
        return render(request, "not_found.html", status_code=404, user=reader)
    if not reader.covers(code):  # a province officer reads its own province only
        raise PageForbidden(reader)
    reporting = Reporting.of(runtime)
    try:
        summary, error = await reporting.province_summary(code, _as_of(as_of)), None
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=reader)
    except InvalidInput as refused:
        summary, error = await reporting.province_summary(code, None), refused.detail
    return render(
        request,
        "province.html",
        user=reader,
        summary=summary,
        as_of=as_of or "",
        as_of_error=error,
        local=viet_nam_time,
    )


@router.get("/donors", response_class=HTMLResponse)
async def donors(
    request: Request, runtime: RuntimeDep, user: MaybeUser, as_of: AsOf = None
) -> HTMLResponse:
    reader = signed_in(user, *NATIONAL_ROLES)
    reporting = Reporting.of(runtime)
    try:
        rows, error = await reporting.donors(_as_of(as_of)), None
    except InvalidInput as refused:
        rows, error = await reporting.donors(None), refused.detail
    return render(
        request, "donors.html", user=reader, donors=rows, as_of=as_of or "", as_of_error=error
    )


@router.get("/donors/{donor}", response_class=HTMLResponse)
async def donor(
    donor: str,
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    as_of: AsOf = None,
    since: date | None = None,
    until: date | None = None,
) -> HTMLResponse:
    return await _donor(request, runtime, user, donor, as_of, since, until, "donor.html")


@router.get("/donors/{donor}/letter", response_class=HTMLResponse)
async def letter(
    donor: str,
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    since: date | None = None,
    until: date | None = None,
) -> HTMLResponse:
    """The printable acknowledgement letter for the donor and the period (vi or en)."""
    return await _donor(request, runtime, user, donor, None, since, until, "letter.html")


async def _donor(
    request: Request,
    runtime: Any,
    user: Principal | None,
    donor: str,
    as_of: str | None,
    since: date | None,
    until: date | None,
    template: str,
) -> HTMLResponse:
    reader = signed_in(user, *NATIONAL_ROLES)
    if len(donor) > 200:
        return render(request, "not_found.html", status_code=404, user=reader)
    reporting = Reporting.of(runtime)
    error = None
    try:
        report = await reporting.donor_report(donor, _as_of(as_of), *period(since, until))
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=reader)
    except DomainError as refused:
        error = refused.detail
        report = await reporting.donor_report(donor, None)
    return render(
        request,
        template,
        user=reader,
        report=report,
        since=since,
        until=until,
        as_of=as_of or "",
        as_of_error=error,
        local=viet_nam_time,
    )


@router.get("/shipments/{shipment_id}", response_class=HTMLResponse)
async def timeline(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser, as_of: AsOf = None
) -> HTMLResponse:
    reader = signed_in(user, *NATIONAL_ROLES)
    reporting = Reporting.of(runtime)
    error = None
    try:
        found = await reporting.timeline(shipment_id, _as_of(as_of))
    except NotFound:
        return render(request, "not_found.html", status_code=404, user=reader)
    except InvalidInput as refused:
        error, found = refused.detail, await reporting.timeline(shipment_id, None)
    return render(
        request,
        "timeline.html",
        user=reader,
        timeline=found,
        as_of=as_of or "",
        as_of_error=error,
        local=viet_nam_time,
    )
