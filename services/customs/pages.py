"""Customs officers' page: the clearance queue with the fast-track action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shared.auth import Role
from shared.contracts.customs import Examination, Lane
from shared.http.deps import RuntimeDep
from shared.http.pages import page_row, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser

router = APIRouter(include_in_schema=False)
# A queue is worked oldest first; what is done is looked up newest first. Fixed SQL only.
ORDER = {
    "awaiting_arrival": "expected_arrival, opened_at",
    "arrived": "arrived_at, opened_at",
    "cleared": "cleared_at DESC",
}


@router.get("/", response_class=HTMLResponse)
async def queue(
    request: Request, runtime: RuntimeDep, user: MaybeUser, status: str = "arrived"
) -> HTMLResponse:
    reader = signed_in(user, Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    status = status if status in ORDER else "arrived"
    rows = await runtime.pool.fetch(
        "SELECT * FROM clearance_cases WHERE status = $1"
        " AND ($2::text[] IS NULL OR airport = ANY($2))"
        f" ORDER BY {ORDER[status]} LIMIT 100",
        status,
        reader.visible(),
    )
    return render(
        request,
        "queue.html",
        user=reader,
        cases=[case_row(r) for r in rows],
        status=status,
        statuses=tuple(ORDER),
        lanes=list(Lane),
        examinations=list(Examination),
    )


def case_row(row: Any) -> dict[str, Any]:
    """A clearance_cases row for the queue, with the total received."""
    data = page_row(row, "lines", "received", "cleared_lines")
    data["received_total"] = sum(r["quantity"] for r in data["received"])
    return data
