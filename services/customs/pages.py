"""Customs officers' page: the clearance queue with the fast-track action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.customs import queries
from services.customs.domain import CaseStatus
from services.customs.queries import CaseView
from shared.auth import Role
from shared.contracts.customs import Examination, Lane
from shared.http.deps import RuntimeDep
from shared.http.pages import page_row, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def queue(
    request: Request, runtime: RuntimeDep, user: MaybeUser, status: str = "arrived"
) -> HTMLResponse:
    reader = signed_in(user, Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    shown = CaseStatus(status) if status in tuple(CaseStatus) else CaseStatus.ARRIVED
    cases = await queries.queue(runtime.pool, shown, reader.visible())
    return render(
        request,
        "queue.html",
        user=reader,
        cases=[case_row(c) for c in cases],
        status=shown,
        statuses=tuple(CaseStatus),
        lanes=list(Lane),
        examinations=list(Examination),
    )


def case_row(case: CaseView) -> dict[str, Any]:
    """A case for the queue, in Viet Nam time, with the total received."""
    return page_row(case.model_dump()) | {"received_total": case.received_total}
