"""Reporting HTTP API: the national dashboard, provinces, donors, a consignment's timeline.

Every read takes ``as_of`` (a date, the whole day in Viet Nam time, or a time) and
``format`` (json, csv or xlsx; csv exports one ``table``, xlsx every table as a sheet).
National roles read everything; a recipient's officer reads its own summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.reporting import export
from services.reporting.application import Reporting
from services.reporting.domain import picture
from services.reporting.domain.measures import VIET_NAM
from services.reporting.domain.picture import Dashboard, TotalRow
from services.reporting.domain.reports import DonorReport, ProvinceSummary, RecipientSummary
from services.reporting.export import Table
from services.reporting.projections import REPORTING_CHANNEL
from services.reporting.queries import Timeline
from shared.auth import AuthError, Principal, Role
from shared.decider import InvalidInput
from shared.http.deps import RuntimeDep
from shared.http.live import LiveFeed
from shared.http.security import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["reporting"])
feed = LiveFeed(REPORTING_CHANNEL)  # reporting took in events: the consignment's id

AsOf = Annotated[
    str | None,
    Query(
        max_length=40,
        description="the state as the system knew it then: a date (2021-08-01, the whole day"
        " in Viet Nam time) or a time with an offset",
    ),
]
TableName = Annotated[
    str | None,
    Query(max_length=40, pattern="^[a-z_]+$", description="the table a CSV export holds"),
]
ProvinceCode = Annotated[str, Path(max_length=16, description="a province's 2025 code")]
RecipientCode = Annotated[
    str, Path(max_length=16, description="a national recipient's code (MOD, MPS, NEPI, ...)")
]
Donor = Annotated[str, Path(min_length=1, max_length=200, description="the donor's name")]


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


FormatQuery = Annotated[Format, Query(description="json, csv (one table) or xlsx (all)")]
EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            export.CSV.split(";")[0]: {"schema": {"type": "string"}},
            export.XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "JSON, or the export asked for with ``format``",
    }
}


def require_national(user: Principal) -> None:
    """The national picture is for national roles (ministry, viewer, admin)."""
    if not user.national:
        raise AuthError(f"role {user.role.value} may not read the national picture", 403)


def _exported(
    name: str, tables: Sequence[Table], fmt: Format, table: str | None
) -> Response | None:
    """The export asked for, or None for JSON."""
    if fmt is Format.JSON:
        return None
    if fmt is Format.XLSX:
        return _download(export.to_xlsx(tables), export.XLSX, f"{name}.xlsx")
    chosen = next((t for t in tables if t[0] == (table or tables[0][0])), None)
    if chosen is None:
        names = ", ".join(t[0] for t in tables)
        raise InvalidInput(f"table must be one of: {names}", field="table", code="no-such-table")
    return _download(export.to_csv(chosen), export.CSV, f"{name}-{chosen[0]}.csv")


def _download(body: bytes, media_type: str, filename: str) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get("/dashboard", response_model=Dashboard, responses=EXPORTS)
async def dashboard(
    runtime: RuntimeDep,
    user: CurrentUser,
    as_of: AsOf = None,
    format: FormatQuery = Format.JSON,
    table: TableName = None,
) -> Any:
    """The national picture: pipeline, lead times, provinces, donors, channels, products,
    the oldest stuck items and how many there are (an export lists them all)."""
    require_national(user)
    listed = picture.STUCK_LISTED if format is Format.JSON else None  # an export lists all
    view = await Reporting.of(runtime).dashboard(as_of, listed)
    return _exported("dashboard", export.dashboard_tables(view), format, table) or view


@router.get("/dashboard/stream", response_class=StreamingResponse)
async def dashboard_stream(request: Request, user: CurrentUser) -> Any:
    """Server-Sent Events: ``changed`` whenever reporting has taken in new events."""
    require_national(user)

    async def changed(subject: str) -> str:
        return f"event: changed\ndata: {json.dumps({'shipment_id': subject})}\n\n"

    return feed.stream(request, changed)


@router.get("/provinces/{code}/summary", response_model=ProvinceSummary, responses=EXPORTS)
async def province_summary(
    code: ProvinceCode,
    runtime: RuntimeDep,
    user: CurrentUser,
    as_of: AsOf = None,
    format: FormatQuery = Format.JSON,
    table: TableName = None,
) -> Any:
    """Doses allocated and received per 100 inhabitants, and every notice of the province."""
    user.require(Role.PROVINCE_OFFICER, *NATIONAL_ROLES)
    user.require_scope(code, "province")
    summary = await Reporting.of(runtime).province_summary(code, as_of)
    return _exported(f"province-{code}", export.province_tables(summary), format, table) or summary


@router.get("/recipients/{code}/summary", response_model=RecipientSummary, responses=EXPORTS)
async def recipient_summary(
    code: RecipientCode,
    runtime: RuntimeDep,
    user: CurrentUser,
    as_of: AsOf = None,
    format: FormatQuery = Format.JSON,
    table: TableName = None,
) -> Any:
    """A national recipient's doses allocated and received, and every notice to it."""
    user.require(Role.PROVINCE_OFFICER, *NATIONAL_ROLES)
    user.require_scope(code, "recipient")
    summary = await Reporting.of(runtime).recipient_summary(code, as_of)
    return (
        _exported(f"recipient-{code}", export.recipient_tables(summary), format, table) or summary
    )


NATIONAL_ROLES = (
    Role.NATIONAL_VIEWER,
    Role.ALLOCATION_OFFICER,
    Role.ALLOCATION_APPROVER,
    Role.STORE_OFFICER,
)


@router.get("/donors", response_model=list[TotalRow], responses=EXPORTS)
async def donors(
    runtime: RuntimeDep,
    user: CurrentUser,
    as_of: AsOf = None,
    format: FormatQuery = Format.JSON,
    table: TableName = None,
) -> Any:
    """Each donor's consignments and doses: announced, released, allocated, received."""
    require_national(user)
    rows = await Reporting.of(runtime).donors(as_of)
    return _exported("donors", export.donor_tables(rows), format, table) or rows


PERIOD_YEARS = (2000, 2100)


def period(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole Viet Nam days, ``until`` included."""
    for name, day in (("since", since), ("until", until)):
        if day is not None and not PERIOD_YEARS[0] <= day.year <= PERIOD_YEARS[1]:
            raise InvalidInput(
                f"{name} must be between {PERIOD_YEARS[0]} and {PERIOD_YEARS[1]}",
                field=name,
                code="bad-period",
            )
    if since and until and until < since:
        raise InvalidInput("until must not be before since", field="until", code="bad-period")
    start = datetime.combine(since, time(), VIET_NAM) if since else None
    end = datetime.combine(until + timedelta(days=1), time(), VIET_NAM) if until else None
    return start, end - timedelta(microseconds=1) if end else None


@router.get("/donors/{donor}/report", response_model=DonorReport, responses=EXPORTS)
async def donor_report(
    donor: Donor,
    runtime: RuntimeDep,
    user: CurrentUser,
    as_of: AsOf = None,
    since: date | None = None,
    until: date | None = None,
    format: FormatQuery = Format.JSON,
    table: TableName = None,
) -> Any:
    """What the donor's consignments became: arrived, cleared, allocated, received,
    rejected and why (``since``/``until``: announced in that period)."""
    require_national(user)
    report = await Reporting.of(runtime).donor_report(donor, as_of, *period(since, until))
    return _exported("donor-report", export.donor_report_tables(report), format, table) or report


@router.get("/shipments/{shipment_id}/timeline", response_model=Timeline, responses=EXPORTS)
async def timeline(
    shipment_id: UUID,
    runtime: RuntimeDep,
    user: CurrentUser,
    as_of: AsOf = None,
    format: FormatQuery = Format.JSON,
    table: TableName = None,
) -> Any:
    """Every event of the consignment across the services, with its actor."""
    require_national(user)
    found = await Reporting.of(runtime).timeline(shipment_id, as_of)
    name = f"timeline-{shipment_id}"
    return _exported(name, export.timeline_tables(found), format, table) or found
