"""Customs officers' pages: the clearance queue in urgency order (cold chain, nearest expiry,
arrival) with each case's clock, and a case page with a form for every step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.customs import queries
from services.customs.domain import CaseStatus
from services.customs.office import office_hours
from services.customs.queries import CaseView
from shared.auth import Role
from shared.contracts.customs import (
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
from shared.http.deps import RuntimeDep
from shared.http.pages import PageForbidden, page_row, signed_in, viet_nam_time
from shared.http.rendering import render
from shared.http.security import MaybeUser

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def queue(
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    status: str = "arrived",
    priority: str = "",
) -> HTMLResponse:
    reader = signed_in(user, Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    shown = CaseStatus(status) if status in tuple(CaseStatus) else CaseStatus.ARRIVED
    # an unknown priority shows them all, as an unknown status shows the default queue
    only = Priority(priority) if priority in tuple(Priority) else None
    cases = await queries.queue(runtime.pool, shown, reader.visible(), only)
    return render(
        request,
        "queue.html",
        user=reader,
        cases=[case_row(c) for c in cases],
        status=shown,
        statuses=tuple(CaseStatus),
        priority=only,
        priorities=tuple(Priority),
        lanes=list(Lane),
        examinations=list(Examination),
    )


@router.get("/cases/{shipment_id}", response_class=HTMLResponse)
async def case_page(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    reader = signed_in(user, Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    case = await queries.case(runtime.pool, shipment_id)
    if case is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    if not reader.covers(case.airport):
        raise PageForbidden(reader)
    history = await queries.history(runtime.pool, shipment_id, runtime.store)
    return render(
        request,
        "case.html",
        user=reader,
        case=case_row(case),
        history=[h.model_dump() | {"recorded_at": viet_nam_time(h.recorded_at)} for h in history],
        **step_choices(),
    )


def step_choices() -> dict[str, Any]:
    """The choices each form offers, from the contracts' enums."""
    return {
        "lanes": list(Lane),
        "examinations": list(Examination),
        "declaration_types": list(DeclarationType),
        "documents": list(Document),
        "document_statuses": list(DocumentStatus),
        "permit_statuses": list(PermitStatus),
        "places": list(ExaminationPlace),
        "hold_reasons": list(HoldReason),
        "outcomes": list(RefusalOutcome),
    }


def case_row(case: CaseView, now: datetime | None = None) -> dict[str, Any]:
    """A case for the pages, in Viet Nam time, with the total received and its clock."""
    clock = case.clock_at(now or datetime.now(UTC), office_hours())
    return page_row(case.model_dump()) | {
        "received_total": case.received_total,
        "clock": None
        if clock is None
        else clock.model_dump() | {"target_at": viet_nam_time(clock.target_at)},
    }
